//! The queue: when to try each recipient again (`schedule`), the delivery status
//! notifications sent to senders (`dsn`), and the scheduler that runs deliveries (`runner`).

pub mod runner;
