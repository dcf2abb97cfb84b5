//! Byte-stream framing: command lines, the DATA body, and BDAT chunk line endings.
//!
//! Everything here is incremental and allocation-free per line: callers hand in
//! whatever bytes arrived, in chunks of any size, and learn how many were used.

pub mod bdat;
pub mod data;
pub mod dot_stuff;
pub use dot_stuff::DotStuffer;
pub mod line;

pub use bdat::LineEndingNormalizer;
pub use data::{DataProgress, DataReceiver};
pub use line::{FramedLine, Line, LineFramer};
