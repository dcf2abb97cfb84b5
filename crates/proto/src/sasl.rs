//! The server side of the SASL mechanisms Posthorn offers: PLAIN (RFC 4616) and LOGIN
//! (draft-murchison-sasl-login), as carried by SMTP AUTH (RFC 4954).
//!
//! This module turns the client's base64 responses into [`Credentials`]; it knows no
//! SMTP reply codes and checks no passwords. An exchange is a value consumed by each
//! step ([`Exchange::start`], then [`Exchange::respond`] for every challenge), so a
//! caller cannot answer a challenge twice or skip one.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use thiserror::Error;

/// The LOGIN challenges, base64 of `Username:` and `Password:` as every client expects.
const LOGIN_USERNAME_CHALLENGE: &str = "VXNlcm5hbWU6";
const LOGIN_PASSWORD_CHALLENGE: &str = "UGFzc3dvcmQ6";

/// A SASL mechanism this module implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    Login,
}

impl Mechanism {
    /// The mechanism named `name` (case-insensitive), if implemented here.
    pub fn from_name(name: &str) -> Option<Self> {
        if name.eq_ignore_ascii_case("PLAIN") {
            Some(Mechanism::Plain)
        } else if name.eq_ignore_ascii_case("LOGIN") {
            Some(Mechanism::Login)
        } else {
            None
        }
    }

    /// The registered name, as offered in EHLO.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        }
    }
}

/// What the client claimed: who it is and the password proving it.
///
/// `authzid` is the identity to act as (PLAIN only). Posthorn does not support proxy
/// authorization, so the SMTP session refuses an `authzid` that differs from the
/// `username` before anyone checks the password. No field contains NUL (RFC 4616 §2 for
/// PLAIN; the same is enforced for LOGIN), so verifiers may use it as a separator.
/// `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub mechanism: Mechanism,
    pub authzid: Option<String>,
    pub username: String,
    pub password: String,
}

impl Credentials {
    /// True when the client asked to act as someone other than itself.
    pub fn requests_proxy(&self) -> bool {
        self.authzid
            .as_deref()
            .is_some_and(|authzid| authzid != self.username)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("mechanism", &self.mechanism)
            .field("authzid", &self.authzid)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Why an exchange ended without credentials.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SaslError {
    /// The client sent `*` (RFC 4954 §4).
    #[error("authentication cancelled by the client")]
    Cancelled,
    #[error("response is not valid base64")]
    Base64,
    /// A PLAIN message that is not `[authzid] NUL authcid NUL passwd` (RFC 4616 §2), or
    /// a NUL inside a LOGIN username or password.
    #[error("PLAIN message without exactly two NUL separators, or NUL in a LOGIN field")]
    Malformed,
    /// RFC 4616 §2 and the LOGIN draft require UTF-8.
    #[error("credentials are not valid UTF-8")]
    InvalidUtf8,
}

/// A server-side exchange waiting for the client's next response line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    expecting: Expecting,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Expecting {
    PlainMessage,
    LoginUsername,
    LoginPassword { username: String },
}

/// Where an exchange stands after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Send `334 <challenge>` (already base64) and feed the next line to the exchange.
    Challenge(Exchange, &'static str),
    /// The client gave everything the mechanism needs.
    Complete(Credentials),
}

impl Exchange {
    /// Starts `mechanism` with the initial response from the AUTH line, if any (`=`
    /// stands for an empty one, RFC 4954 §4).
    pub fn start(
        mechanism: Mechanism,
        initial_response: Option<&str>,
    ) -> Result<Progress, SaslError> {
        let expecting = match mechanism {
            Mechanism::Plain => Expecting::PlainMessage,
            Mechanism::Login => Expecting::LoginUsername,
        };
        let exchange = Exchange { expecting };
        match initial_response {
            Some("=") => exchange.accept(Vec::new()),
            Some(response) => exchange.accept(decode_base64(response.as_bytes())?),
            None => Ok(exchange.challenge()),
        }
    }

    /// Takes the client's response line (without CRLF) to the last challenge.
    pub fn respond(self, line: &[u8]) -> Result<Progress, SaslError> {
        let line = line.trim_ascii();
        if line == b"*" {
            return Err(SaslError::Cancelled);
        }
        self.accept(decode_base64(line)?)
    }

    /// The challenge that asks for what this exchange expects.
    fn challenge(self) -> Progress {
        let text = match self.expecting {
            // RFC 4616: PLAIN has no challenge; RFC 4954 sends an empty one.
            Expecting::PlainMessage => "",
            Expecting::LoginUsername => LOGIN_USERNAME_CHALLENGE,
            Expecting::LoginPassword { .. } => LOGIN_PASSWORD_CHALLENGE,
        };
        Progress::Challenge(self, text)
    }

    fn accept(self, decoded: Vec<u8>) -> Result<Progress, SaslError> {
        match self.expecting {
            Expecting::PlainMessage => decode_plain(&decoded).map(Progress::Complete),
            Expecting::LoginUsername => {
                let username = login_field(decoded)?;
                let next = Exchange {
                    expecting: Expecting::LoginPassword { username },
                };
                Ok(next.challenge())
            }
            Expecting::LoginPassword { username } => Ok(Progress::Complete(Credentials {
                mechanism: Mechanism::Login,
                authzid: None,
                username,
                password: login_field(decoded)?,
            })),
        }
    }
}

/// Decodes one PLAIN message: `[authzid] NUL authcid NUL passwd` (RFC 4616 §2). An empty
/// authzid means none. Empty names and passwords pass: refusing them is the verifier's job.
pub fn decode_plain(message: &[u8]) -> Result<Credentials, SaslError> {
    let mut fields = message.split(|&byte| byte == 0);
    let (Some(authzid), Some(username), Some(password), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(SaslError::Malformed);
    };
    let authzid = utf8(authzid.to_vec())?;
    Ok(Credentials {
        mechanism: Mechanism::Plain,
        authzid: (!authzid.is_empty()).then_some(authzid),
        username: utf8(username.to_vec())?,
        password: utf8(password.to_vec())?,
    })
}

fn decode_base64(text: &[u8]) -> Result<Vec<u8>, SaslError> {
    BASE64.decode(text).map_err(|_| SaslError::Base64)
}

fn login_field(bytes: Vec<u8>) -> Result<String, SaslError> {
    if bytes.contains(&0) {
        return Err(SaslError::Malformed);
    }
    utf8(bytes)
}

fn utf8(bytes: Vec<u8>) -> Result<String, SaslError> {
    String::from_utf8(bytes).map_err(|_| SaslError::InvalidUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        BASE64.encode(bytes)
    }

    fn complete(progress: Result<Progress, SaslError>) -> Credentials {
        match progress {
            Ok(Progress::Complete(credentials)) => credentials,
            other => panic!("expected credentials, got {other:?}"),
        }
    }

    fn challenge(progress: Result<Progress, SaslError>) -> (Exchange, &'static str) {
        match progress {
            Ok(Progress::Challenge(exchange, text)) => (exchange, text),
            other => panic!("expected a challenge, got {other:?}"),
        }
    }

    #[test]
    fn plain_without_authzid() {
        let credentials = decode_plain(b"\0alice\0s3cret").expect("valid PLAIN");
        assert_eq!(credentials.mechanism, Mechanism::Plain);
        assert_eq!(credentials.authzid, None);
        assert_eq!(credentials.username, "alice");
        assert_eq!(credentials.password, "s3cret");
        assert!(!credentials.requests_proxy());
    }

    #[test]
    fn plain_with_authzid() {
        let same = decode_plain(b"alice\0alice\0pw").expect("valid PLAIN");
        assert_eq!(same.authzid.as_deref(), Some("alice"));
        assert!(!same.requests_proxy());
        let other = decode_plain(b"boss\0alice\0pw").expect("valid PLAIN");
        assert_eq!(other.authzid.as_deref(), Some("boss"));
        assert!(other.requests_proxy());
    }

    #[test]
    fn plain_needs_exactly_two_nuls() {
        for message in [&b""[..], b"alice", b"\0alice", b"a\0b\0c\0d"] {
            assert_eq!(
                decode_plain(message),
                Err(SaslError::Malformed),
                "{message:?}"
            );
        }
    }

    #[test]
    fn plain_must_be_utf8() {
        assert_eq!(
            decode_plain(b"\0j\xfcrgen\0pw"),
            Err(SaslError::InvalidUtf8)
        );
        let utf8 = decode_plain("\0jürgen\0pässword".as_bytes()).expect("UTF-8");
        assert_eq!(utf8.username, "jürgen");
    }

    #[test]
    fn plain_initial_response_completes_at_once() {
        let credentials = complete(Exchange::start(
            Mechanism::Plain,
            Some(&b64(b"\0alice\0pw")),
        ));
        assert_eq!(credentials.username, "alice");
    }

    #[test]
    fn plain_without_initial_response_sends_an_empty_challenge() {
        let (exchange, text) = challenge(Exchange::start(Mechanism::Plain, None));
        assert_eq!(text, "");
        let credentials = complete(exchange.respond(b64(b"\0alice\0pw").as_bytes()));
        assert_eq!(credentials.password, "pw");
    }

    #[test]
    fn equals_sign_is_an_empty_initial_response() {
        assert_eq!(
            Exchange::start(Mechanism::Plain, Some("=")),
            Err(SaslError::Malformed)
        );
        let (_, text) = challenge(Exchange::start(Mechanism::Login, Some("=")));
        assert_eq!(text, LOGIN_PASSWORD_CHALLENGE);
    }

    #[test]
    fn login_asks_for_username_then_password() {
        let (exchange, text) = challenge(Exchange::start(Mechanism::Login, None));
        assert_eq!(BASE64.decode(text).expect("base64"), b"Username:");
        let (exchange, text) = challenge(exchange.respond(b64(b"alice").as_bytes()));
        assert_eq!(BASE64.decode(text).expect("base64"), b"Password:");
        let credentials = complete(exchange.respond(b64(b"pw").as_bytes()));
        assert_eq!(credentials.mechanism, Mechanism::Login);
        assert_eq!(credentials.authzid, None);
        assert_eq!(credentials.username, "alice");
        assert_eq!(credentials.password, "pw");
    }

    #[test]
    fn login_initial_response_is_the_username() {
        let (exchange, text) = challenge(Exchange::start(Mechanism::Login, Some(&b64(b"alice"))));
        assert_eq!(text, LOGIN_PASSWORD_CHALLENGE);
        let credentials = complete(exchange.respond(b64(b"pw").as_bytes()));
        assert_eq!(credentials.username, "alice");
    }

    #[test]
    fn login_fields_must_not_contain_nul() {
        let (exchange, _) = challenge(Exchange::start(Mechanism::Login, None));
        assert_eq!(
            exchange.respond(b64(b"ali\0ce").as_bytes()),
            Err(SaslError::Malformed)
        );
        let (exchange, _) = challenge(Exchange::start(Mechanism::Login, Some(&b64(b"alice"))));
        assert_eq!(
            exchange.respond(b64(b"p\0w").as_bytes()),
            Err(SaslError::Malformed)
        );
    }

    #[test]
    fn star_cancels() {
        let (exchange, _) = challenge(Exchange::start(Mechanism::Login, None));
        assert_eq!(exchange.respond(b"*"), Err(SaslError::Cancelled));
    }

    #[test]
    fn bad_base64_and_bad_utf8_are_errors() {
        let (exchange, _) = challenge(Exchange::start(Mechanism::Plain, None));
        assert_eq!(exchange.respond(b"not base64!"), Err(SaslError::Base64));
        assert_eq!(
            Exchange::start(Mechanism::Plain, Some("AGFsaWNl=")),
            Err(SaslError::Base64)
        );
        let (exchange, _) = challenge(Exchange::start(Mechanism::Login, None));
        assert_eq!(
            exchange.respond(b64(b"\xff\xfe").as_bytes()),
            Err(SaslError::InvalidUtf8)
        );
    }

    #[test]
    fn mechanism_names_are_case_insensitive() {
        assert_eq!(Mechanism::from_name("plain"), Some(Mechanism::Plain));
        assert_eq!(Mechanism::from_name("LOGIN"), Some(Mechanism::Login));
        assert_eq!(Mechanism::from_name("CRAM-MD5"), None);
        assert_eq!(Mechanism::Login.name(), "LOGIN");
    }

    #[test]
    fn debug_never_shows_the_password() {
        let credentials = decode_plain(b"\0alice\0hunter2").expect("valid PLAIN");
        let shown = format!("{credentials:?} {credentials:#?}");
        assert!(shown.contains("alice"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
