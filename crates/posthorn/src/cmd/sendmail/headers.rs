//! The header section of a locally submitted message: found in the normalised input,
//! searched for `-t` recipients, stripped of Bcc:, completed with the Date:,
//! Message-ID: and From: that sendmail adds when they are missing.
//!
//! The header section ends at the first empty line, or at the first line that is
//! neither a header field nor a continuation (that line starts the body, and a blank
//! line is put before it, as Postfix does). Field bytes are kept as written; only
//! values that are searched are unfolded.

use chrono::{DateTime, Local};

use super::addresses;

/// One header field with its continuation lines, CRLF included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    name: String,
    raw: Vec<u8>,
}

impl Field {
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The value, unfolded (CRLFs removed), as text.
    pub fn value(&self) -> String {
        let start = self.name.len() + 1;
        let value: Vec<u8> = self.raw[start.min(self.raw.len())..]
            .iter()
            .copied()
            .filter(|&byte| byte != b'\r' && byte != b'\n')
            .collect();
        String::from_utf8_lossy(&value).trim().to_owned()
    }
}

/// The parsed header section and where the body starts in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSection {
    pub fields: Vec<Field>,
    /// Offset of the body's first byte, after the blank line if there was one.
    pub body_start: usize,
}

/// What a message is missing, to be added at the end of its header section.
#[derive(Debug, Clone)]
pub struct Defaults<'a> {
    pub now: DateTime<Local>,
    /// `<ID@hostname>`.
    pub message_id: &'a str,
    /// The address for an added From: (the envelope sender).
    pub from: &'a str,
    pub full_name: Option<&'a str>,
}

/// Finds the header section at the start of `input` (CRLF lines). None when more input
/// is needed to know where it ends; at end of input there is always an answer.
pub fn parse(input: &[u8], at_end: bool) -> Option<HeaderSection> {
    let mut fields: Vec<Field> = Vec::new();
    let mut offset = 0;
    while let Some(length) = find_crlf(&input[offset..]).map(|end| end + 2) {
        let line = &input[offset..offset + length];
        if line == b"\r\n" {
            return Some(HeaderSection {
                fields,
                body_start: offset + length,
            });
        }
        match (line[0], fields.last_mut(), field_name(line)) {
            (b' ' | b'\t', Some(field), _) => field.raw.extend_from_slice(line),
            (_, _, Some(name)) => fields.push(Field {
                name,
                raw: line.to_vec(),
            }),
            _ => break, // the body starts here, without a blank line
        }
        offset += length;
    }
    let body_found = offset < input.len() && find_crlf(&input[offset..]).is_some();
    (body_found || at_end).then_some(HeaderSection {
        fields,
        body_start: offset,
    })
}

fn find_crlf(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|pair| pair == b"\r\n")
}

/// `name:` where the name is printable ASCII without space or colon (RFC 5322 §2.2).
fn field_name(line: &[u8]) -> Option<String> {
    let colon = line.iter().position(|&byte| byte == b':')?;
    let name = &line[..colon];
    let valid = !name.is_empty() && name.iter().all(|&byte| (33..=126).contains(&byte));
    valid.then(|| String::from_utf8_lossy(name).into_owned())
}

impl HeaderSection {
    pub fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|field| field.is(name))
    }

    /// The `-t` recipients: from Resent-To/Cc/Bcc when the message has any of them
    /// (it is being resent), otherwise from To, Cc and Bcc.
    pub fn recipient_specs(&self) -> Vec<String> {
        let resent = ["Resent-To", "Resent-Cc", "Resent-Bcc"];
        let names = match resent.iter().any(|name| self.has(name)) {
            true => resent,
            false => ["To", "Cc", "Bcc"],
        };
        self.fields
            .iter()
            .filter(|field| names.iter().any(|name| field.is(name)))
            .flat_map(|field| addresses::addr_specs(&field.value()))
            .collect()
    }

    /// The Message-ID the message will carry, if it has one.
    pub fn message_id(&self) -> Option<String> {
        let field = self.fields.iter().find(|field| field.is("Message-ID"))?;
        Some(field.value()).filter(|value| !value.is_empty())
    }

    /// The header section as stored: Bcc: and Resent-Bcc: removed, missing Date:,
    /// Message-ID: and From: added, then the blank line.
    pub fn render(&self, defaults: &Defaults<'_>) -> Vec<u8> {
        let mut output = Vec::new();
        for field in &self.fields {
            if !(field.is("Bcc") || field.is("Resent-Bcc")) {
                output.extend_from_slice(&field.raw);
            }
        }
        if !self.has("Date") {
            let date = defaults.now.format("%a, %d %b %Y %H:%M:%S %z");
            output.extend_from_slice(format!("Date: {date}\r\n").as_bytes());
        }
        if !self.has("Message-ID") {
            output.extend_from_slice(format!("Message-ID: {}\r\n", defaults.message_id).as_bytes());
        }
        if !self.has("From") {
            let from = match defaults.full_name.map(display_name) {
                Some(name) if !name.is_empty() => format!("{name} <{}>", defaults.from),
                _ => defaults.from.to_owned(),
            };
            output.extend_from_slice(format!("From: {from}\r\n").as_bytes());
        }
        output.extend_from_slice(b"\r\n");
        output
    }
}

/// `-F` text as an RFC 5322 display name: atoms as they are, otherwise a quoted
/// string; non-ASCII as an RFC 2047 encoded word. Control characters are dropped so
/// the name cannot start a new header line.
fn display_name(name: &str) -> String {
    let name: String = name.chars().filter(|c| !c.is_control()).collect();
    let name = name.trim();
    if !name.is_ascii() {
        return format!("=?UTF-8?B?{}?=", base64(name.as_bytes()));
    }
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~ ".contains(c);
    if name.chars().all(atext) {
        return name.to_owned();
    }
    let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut output = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let group = chunk
            .iter()
            .enumerate()
            .fold(0u32, |group, (index, &byte)| {
                group | (u32::from(byte) << (16 - 8 * index))
            });
        for position in 0..4 {
            if position <= chunk.len() {
                let sextet = (group >> (18 - 6 * position)) & 0x3f;
                output.push(char::from(ALPHABET[sextet as usize]));
            } else {
                output.push('=');
            }
        }
    }
    output
}

#[cfg(test)]
#[path = "headers_tests.rs"]
mod tests;
