//! ESMTP parameters of `MAIL` and `RCPT` (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531
//! SMTPUTF8, RFC 3461 DSN: RET, ENVID, NOTIFY, ORCPT).

/// `BODY=` (RFC 6152, RFC 3030).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BodyType {
    #[default]
    SevenBit,
    EightBitMime,
    BinaryMime,
}

/// `RET=` (RFC 3461 §4.3): how much of the message a DSN carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ret {
    Full,
    Headers,
}

/// `NOTIFY=` (RFC 3461 §4.1): `NEVER`, or any of `SUCCESS`, `FAILURE`, `DELAY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Notify {
    pub never: bool,
    pub success: bool,
    pub failure: bool,
    pub delay: bool,
}

/// `ORCPT=addr-type;xtext` (RFC 3461 §4.2), stored decoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OriginalRecipient {
    /// Usually `rfc822`.
    pub addr_type: String,
    /// The xtext-decoded address.
    pub address: String,
}

/// Parameters accepted on `MAIL FROM`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct MailParams {
    pub size: Option<u64>,
    pub body: Option<BodyType>,
    pub smtputf8: bool,
    pub ret: Option<Ret>,
    /// xtext-decoded `ENVID`.
    pub envid: Option<String>,
    /// `AUTH=` (RFC 4954 §5), xtext-decoded; `<>` is kept as is.
    pub auth: Option<String>,
}

/// Parameters accepted on `RCPT TO`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RcptParams {
    pub notify: Option<Notify>,
    pub orcpt: Option<OriginalRecipient>,
}
