//! The Posthorn SMTP server: tokio listeners (`mta`, `submission`, `smtps`), a thin
//! per-connection driver around the sans-IO session of `posthorn-proto`, STARTTLS,
//! admission limits, and the hand-off of each message to the spool before its `250`.
//!
//! It does not parse SMTP (that is `posthorn-proto`), store messages (`posthorn-spool`)
//! or decide relay policy (`posthorn-policy`); it connects them to sockets and time.

mod admission;
mod client_policy;
mod connection;
pub mod control;
mod error;
mod features;
mod header_scan;
mod inbound_tls;
mod local;
mod maillog;
mod outbound;
mod pace;
mod read_buffer;
mod reading;
mod received;
mod server;
mod settings;
mod spool_space;
mod storage;
mod stream;

pub use error::ServerError;
pub use local::{log_local_submission, serve_local, LocalSubmission};
pub use server::Server;
pub use settings::CertificateReport;

use server::Shared;
