//! Routing (placeholder: being written).
