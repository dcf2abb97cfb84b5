//! Named RFC 3463 / RFC 6531 enhanced status codes used by the command parser.

use crate::reply::EnhancedStatus;

/// 5.5.1 Invalid command.
pub const INVALID_COMMAND: EnhancedStatus = EnhancedStatus::new(5, 5, 1);
/// 5.5.2 Syntax error.
pub const SYNTAX_ERROR: EnhancedStatus = EnhancedStatus::new(5, 5, 2);
/// 5.5.4 Invalid command arguments.
pub const INVALID_ARGUMENTS: EnhancedStatus = EnhancedStatus::new(5, 5, 4);
/// 5.1.7 Bad sender's mailbox address syntax.
pub const BAD_SENDER_SYNTAX: EnhancedStatus = EnhancedStatus::new(5, 1, 7);
/// 5.1.3 Bad destination mailbox address syntax.
pub const BAD_RECIPIENT_SYNTAX: EnhancedStatus = EnhancedStatus::new(5, 1, 3);
/// 5.6.7 Non-ASCII addresses not permitted (RFC 6531 §3.7.4.1); also used for
/// invalid UTF-8 in a command.
pub const NON_ASCII_ADDRESS: EnhancedStatus = EnhancedStatus::new(5, 6, 7);
