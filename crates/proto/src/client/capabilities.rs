//! What the server offered: the EHLO keywords (RFC 5321 §4.1.1.1) the client acts on.
//!
//! ```text
//! ehlo-ok-rsp = ( "250" SP Domain [ SP ehlo-greet ] CRLF )
//!             / ( "250-" Domain [ SP ehlo-greet ] CRLF
//!                 *( "250-" ehlo-line CRLF ) "250" SP ehlo-line CRLF )
//! ehlo-line   = ehlo-keyword *( SP ehlo-param )
//! ```
//!
//! Keywords are case-insensitive; unknown ones are ignored. `SIZE` (RFC 1870) is
//! `None` when not offered and `Some(0)` when offered without a usable limit (no
//! number, `0`, or something that is not a number): the peer takes `SIZE=` but
//! announces no fixed maximum. `AUTH` mechanisms are upper-cased, and the old
//! `AUTH=PLAIN LOGIN` form some servers still send is read too.

use crate::Reply;

/// The server's greeting and what its EHLO (or HELO) reply offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// False after the HELO fallback: no extension may be used.
    pub esmtp: bool,
    pub pipelining: bool,
    /// See the module documentation: `Some(0)` means offered without a limit.
    pub size: Option<u64>,
    pub eightbitmime: bool,
    pub smtputf8: bool,
    pub dsn: bool,
    pub chunking: bool,
    pub starttls: bool,
    pub enhanced_status_codes: bool,
    /// SASL mechanisms, upper-cased, in the order offered.
    pub auth: Vec<String>,
    pub greeting: Reply,
    /// The reply to EHLO, or to HELO after the fallback.
    pub ehlo_reply: Reply,
}

impl Capabilities {
    /// Reads the keywords of an EHLO reply. `greeting` is left as a bare `220` with no
    /// text; the session fills in the real one.
    pub fn parse(ehlo_reply: &Reply) -> Capabilities {
        Capabilities::from_ehlo(placeholder_greeting(), ehlo_reply.clone())
    }

    pub(crate) fn from_ehlo(greeting: Reply, ehlo_reply: Reply) -> Capabilities {
        let mut capabilities = Capabilities::from_helo(greeting, ehlo_reply);
        capabilities.esmtp = true;
        let reply = std::mem::replace(&mut capabilities.ehlo_reply, placeholder_greeting());
        // The first line is the server's name and greeting text, not a keyword.
        for line in reply.lines.iter().skip(1) {
            capabilities.apply(line);
        }
        capabilities.ehlo_reply = reply;
        capabilities
    }

    /// A HELO session: plain RFC 821 SMTP with no extension.
    pub(crate) fn from_helo(greeting: Reply, helo_reply: Reply) -> Capabilities {
        Capabilities {
            esmtp: false,
            pipelining: false,
            size: None,
            eightbitmime: false,
            smtputf8: false,
            dsn: false,
            chunking: false,
            starttls: false,
            enhanced_status_codes: false,
            auth: Vec::new(),
            greeting,
            ehlo_reply: helo_reply,
        }
    }

    /// Takes one `ehlo-line`.
    fn apply(&mut self, line: &str) {
        let mut words = line.split_ascii_whitespace();
        let Some(keyword) = words.next() else {
            return;
        };
        let keyword = keyword.to_ascii_uppercase();
        if let Some(first) = keyword.strip_prefix("AUTH=") {
            self.add_auth(std::iter::once(first).chain(words));
            return;
        }
        match keyword.as_str() {
            "PIPELINING" => self.pipelining = true,
            "SIZE" => self.size = Some(size_limit(words.next())),
            "8BITMIME" => self.eightbitmime = true,
            "SMTPUTF8" => self.smtputf8 = true,
            "DSN" => self.dsn = true,
            "CHUNKING" => self.chunking = true,
            "STARTTLS" => self.starttls = true,
            "ENHANCEDSTATUSCODES" => self.enhanced_status_codes = true,
            "AUTH" => self.add_auth(words),
            _ => {}
        }
    }

    fn add_auth<'a>(&mut self, mechanisms: impl Iterator<Item = &'a str>) {
        for mechanism in mechanisms.filter(|m| !m.is_empty()) {
            let mechanism = mechanism.to_ascii_uppercase();
            if !self.auth.contains(&mechanism) {
                self.auth.push(mechanism);
            }
        }
    }
}

/// RFC 1870 §4: `SIZE [number]`; anything but a number means "no fixed limit" (0).
fn size_limit(param: Option<&str>) -> u64 {
    param
        .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(0)
}

fn placeholder_greeting() -> Reply {
    Reply {
        code: 220,
        status: None,
        lines: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ehlo(lines: &[&'static str]) -> Reply {
        Reply {
            code: 250,
            status: None,
            lines: lines.iter().map(|line| (*line).into()).collect(),
        }
    }

    #[test]
    fn keywords_are_read_case_insensitively() {
        let reply = ehlo(&[
            "mx.example Hello",
            "pipelining",
            "Size 1000",
            "8bitmime",
            "SMTPUTF8",
            "dsn",
            "CHUNKING",
            "StartTLS",
            "ENHANCEDSTATUSCODES",
            "AUTH plain Login",
            "X-UNKNOWN foo",
        ]);
        let capabilities = Capabilities::parse(&reply);
        assert!(capabilities.esmtp);
        assert!(capabilities.pipelining);
        assert_eq!(capabilities.size, Some(1000));
        assert!(capabilities.eightbitmime);
        assert!(capabilities.smtputf8);
        assert!(capabilities.dsn);
        assert!(capabilities.chunking);
        assert!(capabilities.starttls);
        assert!(capabilities.enhanced_status_codes);
        assert_eq!(capabilities.auth, ["PLAIN", "LOGIN"]);
        assert_eq!(capabilities.ehlo_reply, reply);
    }

    #[test]
    fn the_first_line_is_not_a_keyword() {
        let capabilities = Capabilities::parse(&ehlo(&["PIPELINING", "8BITMIME"]));
        assert!(!capabilities.pipelining);
        assert!(capabilities.eightbitmime);
    }

    #[test]
    fn nothing_offered_means_nothing_set() {
        let capabilities = Capabilities::parse(&ehlo(&["mx.example"]));
        assert!(capabilities.esmtp);
        assert_eq!(
            capabilities,
            Capabilities {
                esmtp: true,
                ..Capabilities::from_helo(placeholder_greeting(), ehlo(&["mx.example"]))
            }
        );
    }

    #[test]
    fn size_without_a_usable_limit_is_some_zero() {
        let cases = [
            ("SIZE", Some(0)),
            ("SIZE 0", Some(0)),
            ("SIZE abc", Some(0)),
            ("SIZE 99999999999999999999999", Some(0)),
            ("SIZE 52428800", Some(52_428_800)),
        ];
        for (line, expected) in cases {
            let capabilities = Capabilities::parse(&ehlo(&["mx", line]));
            assert_eq!(capabilities.size, expected, "{line}");
        }
        assert_eq!(Capabilities::parse(&ehlo(&["mx"])).size, None);
    }

    #[test]
    fn old_style_auth_is_merged_without_duplicates() {
        let capabilities =
            Capabilities::parse(&ehlo(&["mx", "AUTH LOGIN PLAIN", "AUTH=LOGIN cram-md5"]));
        assert_eq!(capabilities.auth, ["LOGIN", "PLAIN", "CRAM-MD5"]);
    }
}
