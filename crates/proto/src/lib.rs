//! Sans-IO SMTP for Posthorn.
//!
//! Commands and their ESMTP parameters, the RFC 5321 address grammar, replies with
//! RFC 3463 enhanced status codes, DATA and BDAT framing and dot-stuffing, SASL PLAIN and
//! LOGIN decoding for AUTH (`sasl`), and the two session state machines: the server's
//! (`session`) and the client's (`client`).
//! Nothing here touches a socket, a clock or a file: callers feed bytes in and take
//! replies and events out, which is what lets the whole protocol be tested and fuzzed
//! without I/O.

pub mod address;
pub mod client;
pub mod command;
pub mod framing;
pub mod params;
pub mod reply;
pub mod reply_parser;
pub mod sasl;
pub mod session;
pub mod status;
pub mod xtext;

pub use address::{Domain, ForwardPath, Mailbox, ReversePath};
pub use command::{parse_command, parse_command_in, Command, CommandError, ParseContext};
pub use params::{BodyType, MailParams, Notify, OriginalRecipient, RcptParams, Ret};
pub use reply::{EnhancedStatus, Reply};
