//! What a session offers and enforces, decided by the server per listener and per client.

/// ESMTP extensions offered in the EHLO reply (RFC 5321 §4.1.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extensions {
    /// Offer STARTTLS (RFC 3207); ignored once TLS is active.
    pub starttls: bool,
    pub pipelining: bool,
    pub dsn: bool,
    pub chunking: bool,
    pub smtputf8: bool,
    pub eightbitmime: bool,
    /// SASL mechanisms offered; empty: AUTH not offered.
    pub auth_mechanisms: Vec<&'static str>,
}

impl Default for Extensions {
    fn default() -> Self {
        Extensions {
            starttls: false,
            pipelining: true,
            dsn: true,
            chunking: true,
            smtputf8: true,
            eightbitmime: true,
            auth_mechanisms: Vec::new(),
        }
    }
}

/// Fixed parameters of one server session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Our host name: banner, EHLO reply.
    pub hostname: String,
    pub extensions: Extensions,
    /// Largest message accepted, in octets (advertised as `SIZE`).
    pub max_message_size: u64,
    pub max_recipients: usize,
    /// Bad commands tolerated before the session is closed with 421.
    pub max_errors: u32,
    /// Command line limit including CRLF (RFC 5321 §4.5.3.1.4: at least 512).
    pub max_command_line: usize,
    /// Text line limit excluding CRLF (RFC 5322 §2.1.1: 998).
    pub max_text_line: usize,
    /// TLS is active from the first byte (implicit TLS, port 465).
    pub implicit_tls: bool,
    /// MAIL is refused until the client authenticated (submission listeners).
    pub auth_required: bool,
    /// Header section limit in octets (`552 5.3.4` above it).
    pub max_header_size: u64,
    /// `Received:` fields a message may carry (RFC 5321 §6.3); more: `554 5.4.6`.
    pub max_hops: usize,
    /// Enforce RFC 2920 synchronisation for unauthenticated clients (see the module
    /// doc); off for a local submitter whose whole script arrives at once.
    pub pipelining_sync: bool,
}

impl SessionConfig {
    pub fn new(hostname: impl Into<String>) -> Self {
        SessionConfig {
            hostname: hostname.into(),
            extensions: Extensions::default(),
            max_message_size: 50_000_000,
            max_recipients: 1000,
            max_errors: 20,
            max_command_line: 512,
            max_text_line: 998,
            implicit_tls: false,
            auth_required: false,
            max_header_size: 1_000_000,
            max_hops: 100,
            pipelining_sync: true,
        }
    }
}
