//! DNS lookups for delivery (placeholder: being written).
