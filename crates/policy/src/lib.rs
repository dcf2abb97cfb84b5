//! Posthorn's policy: sendmail's access map and mailertable, read from their text
//! forms, and relay control.
//!
//! [`AccessMap`] parses `Tag:key value` lines (every bad line reported with file:line)
//! and looks keys up in sendmail's order, returning the keys it tried so `posthorn
//! policy` can explain a decision. [`RelayPolicy`] applies `Connect:`, `From:` and
//! `To:` entries and the `[relay]` settings to a client and its envelope.
//! [`Mailertable`] maps recipient domains to next hops (`esmtp:[host]:port`, `error:`)
//! with sendmail's `.domain` lookup order.
//!
//! [`outbound_policy`] decides which outbound TLS mode and requirements apply to a
//! connection from `Try_TLS:`, `TLS_Srv:` and `TLS_Rcpt:` (see [`outbound_tls`]).
//!
//! This crate does no I/O beyond reading the map file in [`AccessMap::load`].

pub mod keys;
pub mod line_errors;
pub mod mailertable;
mod map;
pub mod outbound_tls;
pub mod relay;
mod tag;
mod tls_requirement;
mod value;

pub use mailertable::{
    HostError, MailerEntry, MailerHost, MailerTarget, Mailertable, MailertableError,
    MailertableErrorKind, MailertableErrors,
};
pub use map::{AccessMap, Entry, Lookup, MapError, MapErrorKind, MapErrors};
pub use outbound_tls::{
    outbound_policy, Destination, LookupStep, Negotiated, PolicyNote, PolicySource, Requirements,
    TlsMode, TlsPolicy, Unmet,
};
pub use relay::{Client, ConnectDecision, Decision, RelayPolicy};
pub use tag::Tag;
pub use tls_requirement::{CommonName, RequirementError, RequirementFailure, TlsRequirement};
pub use value::{Action, SrvFeatures, Value, ValueError, SRV_FEATURE_LETTERS};

#[cfg(test)]
mod tests;
