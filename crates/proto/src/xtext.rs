//! RFC 3461 §4 `xtext`, the encoding of `ENVID`, `ORCPT` and `AUTH=` values.
//!
//! ```text
//! xtext   = *( xchar / hexchar )
//! xchar   = any ASCII CHAR between "!" (33) and "~" (126) inclusive, except "+" and "="
//! hexchar = "+" 2(%x30-39 / %x41-46)   ; "+" and two upper case hex digits
//! ```
//!
//! Decoding accepts lower-case hex digits too (senders get this wrong and nothing is
//! ambiguous about it). Decoded values must be UTF-8 and must not contain CR, LF or
//! NUL: they end up in DSNs and log lines, where those would split or truncate text.

use thiserror::Error;

/// Why an xtext value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum XtextError {
    #[error("character {0:#04x} is not allowed in xtext")]
    BadChar(u8),
    #[error("'+' must be followed by two hex digits")]
    BadHexEscape,
    #[error("decoded xtext contains CR, LF or NUL")]
    ForbiddenDecodedChar,
    #[error("decoded xtext is not valid UTF-8")]
    InvalidUtf8,
}

/// Decodes an xtext value into text.
pub fn decode(encoded: &[u8]) -> Result<String, XtextError> {
    let mut decoded = Vec::with_capacity(encoded.len());
    let mut rest = encoded;
    while let Some((&first, tail)) = rest.split_first() {
        match first {
            b'+' => {
                let (high, low) = match tail {
                    [high, low, ..] => (hex_value(*high), hex_value(*low)),
                    _ => (None, None),
                };
                let (Some(high), Some(low)) = (high, low) else {
                    return Err(XtextError::BadHexEscape);
                };
                decoded.push(high << 4 | low);
                rest = &tail[2..];
            }
            b'!'..=b'~' if first != b'=' => {
                decoded.push(first);
                rest = tail;
            }
            other => return Err(XtextError::BadChar(other)),
        }
    }
    if decoded.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(XtextError::ForbiddenDecodedChar);
    }
    String::from_utf8(decoded).map_err(|_| XtextError::InvalidUtf8)
}

/// Encodes text as xtext: every octet outside `!`..`~`, and `+` and `=`, becomes `+HH`.
pub fn encode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_graphic() && byte != b'+' && byte != b'=' {
            encoded.push(char::from(byte));
        } else {
            encoded.push('+');
            encoded.push(char::from(HEX[usize::from(byte >> 4)]));
            encoded.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    encoded
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_table() {
        let cases: &[(&[u8], Result<&str, XtextError>)] = &[
            (b"", Ok("")),
            (b"abc", Ok("abc")),
            (b"a+2Bb", Ok("a+b")),
            (b"a+3db", Ok("a=b")),
            (b"rfc822+3Buser@example.com", Ok("rfc822;user@example.com")),
            (b"+C3+BC", Ok("\u{fc}")),
            (b"a b", Err(XtextError::BadChar(b' '))),
            (b"a=b", Err(XtextError::BadChar(b'='))),
            (b"a\x7f", Err(XtextError::BadChar(0x7f))),
            (b"\xc3\xbc", Err(XtextError::BadChar(0xc3))),
            (b"+", Err(XtextError::BadHexEscape)),
            (b"+4", Err(XtextError::BadHexEscape)),
            (b"+G0", Err(XtextError::BadHexEscape)),
            (b"a+0D+0Ab", Err(XtextError::ForbiddenDecodedChar)),
            (b"+0A", Err(XtextError::ForbiddenDecodedChar)),
            (b"+00", Err(XtextError::ForbiddenDecodedChar)),
            (b"+FF", Err(XtextError::InvalidUtf8)),
        ];
        for (input, expected) in cases {
            let expected = expected.map(str::to_owned);
            assert_eq!(decode(input), expected, "input {:?}", input.escape_ascii());
        }
    }

    #[test]
    fn encode_table() {
        let cases = [
            ("abc", "abc"),
            ("a+b=c", "a+2Bb+3Dc"),
            ("a b", "a+20b"),
            ("\u{fc}", "+C3+BC"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(encode(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn encode_then_decode_round_trips() {
        for text in ["plain", "with space+plus=eq", "tab\there", "Grüße ✉", "~!"] {
            assert_eq!(decode(encode(text).as_bytes()).as_deref(), Ok(text));
        }
    }
}
