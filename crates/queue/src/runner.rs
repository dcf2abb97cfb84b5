//! Scheduler runner (lead).
