//! Reading from a network client under the session's time limits: the pause before the
//! greeting, in which an early talker gives itself away (the session refuses it), and
//! reads bounded by the deadlines and DATA rate that `pace.rs` decides.

use std::io;
use std::time::{Duration, Instant};

use posthorn_proto::session::ServerSession;
use tokio::io::AsyncReadExt;
use tokio::time::timeout;

use crate::pace::{Expired, Pace};
use crate::read_buffer::ReadBuffer;
use crate::stream::Stream;

/// Listens for `pause` before the greeting is written (sendmail's `greet_pause`): input
/// that arrives meanwhile reaches the session before its greeting went out, and the
/// session refuses such an early talker. A zero pause still catches input already
/// waiting. False when the client went away.
pub(crate) async fn listen_before_greeting(
    stream: &mut Stream,
    session: &mut ServerSession,
    pause: Duration,
) -> io::Result<bool> {
    let mut early = [0u8; 512];
    match timeout(pause, stream.read(&mut early)).await {
        Ok(Ok(0)) => Ok(false),
        Ok(Ok(count)) => {
            session.receive(&early[..count]);
            Ok(true)
        }
        Ok(Err(error)) => Err(error),
        Err(_) => Ok(true),
    }
}

/// Reads more input within the session's deadlines and DATA rate (`pace.rs`); a client
/// out of time gets the session's `421`. False when the input ended.
pub(crate) async fn read_paced(
    stream: &mut Stream,
    session: &mut ServerSession,
    buffer: &mut ReadBuffer,
    pace: &mut Pace,
    relay_label: &str,
) -> io::Result<bool> {
    loop {
        let in_message = session.in_message();
        let now = Instant::now();
        if let Some(expired) = pace.check(now, in_message) {
            let during = if in_message { "message" } else { "command" };
            tracing::info!(target: "posthorn::mail", relay = %relay_label, reject = ?expired, during, "client too slow");
            match expired {
                Expired::Timeout => session.timed_out(),
                Expired::TooSlow => session.data_too_slow(),
            }
            return Ok(true);
        }
        let wake = tokio::time::Instant::from_std(pace.wake_at(now, in_message));
        match tokio::time::timeout_at(wake, stream.read(buffer.space())).await {
            Ok(Ok(0)) => return Ok(false),
            Ok(Ok(count)) => {
                pace.received(Instant::now(), count, in_message);
                session.receive(buffer.filled(count));
                buffer.after_read(count, in_message);
                return Ok(true);
            }
            Ok(Err(error)) => return Err(error),
            Err(_) => continue,
        }
    }
}
