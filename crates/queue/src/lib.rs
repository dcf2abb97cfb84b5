//! The queue: when to try each recipient again (`schedule`), the delivery status
//! notifications sent to senders (`dsn`), the scheduler that runs deliveries
//! (`runner`), and the flow control that slows arrivals to the delivery rate (`backlog`).
//!
//! `schedule` and `dsn` are pure: they take times and data and return decisions
//! and bytes; they read no clock, touch no spool and send nothing.

mod backlog;
pub mod dsn;
pub mod runner;
pub mod schedule;

pub use backlog::Backlog;
pub use dsn::{build_dsn, wants_notification, Dsn, DsnAction, DsnRecipient, DsnRequest};
pub use schedule::{
    after_temporary_failure, delay_warning_due, AfterFailure, Lifetime, RetrySchedule,
};
