//! Delivery: where a recipient's mail goes (`route`: mailertable, smarthost, MX), and the
//! SMTP client that carries it there over tokio, with STARTTLS, connection reuse and a
//! per-destination concurrency limit.
//!
//! It does not decide when to try (that is `posthorn-queue`) and speaks SMTP only through
//! the sans-IO client session of `posthorn-proto`.

mod connection;
mod deliverer;
mod destination;
pub mod maillog;
pub mod probe;
pub mod route;
mod stream;
mod tls;
pub mod tls_memory;
mod verify;

pub use connection::{ClientSettings, Connection, ConnectionError, StartTlsFailure};
pub use deliverer::{
    Deliverer, DelivererSettings, Delivery, Outcome, Parcel, RecipientReport, Routing, TlsSettings,
};
pub use tls::{configured_client_certificate, TlsClient, TlsOutcome, TlsSetupError};
pub use verify::Verify;
