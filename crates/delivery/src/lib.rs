//! Delivery: where a recipient's mail goes (`route`: mailertable, smarthost, MX), and the
//! SMTP client that carries it there over tokio, with STARTTLS and connection reuse.
//!
//! It does not decide when to try (that is `posthorn-queue`) and speaks SMTP only through
//! the sans-IO client session of `posthorn-proto`.

pub mod route;
