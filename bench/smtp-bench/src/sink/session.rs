//! The sink's SMTP dialogue as a pure function over received bytes: it answers every
//! complete command in the buffer in order, appending the replies to one output buffer
//! (so pipelined replies leave in one write), and skips message bodies.
//!
//! It accepts everything: no sequence checks, no address checks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::scanner::DataEndScanner;

/// A command line longer than this closes the connection (RFC 5321 says 512).
const MAX_LINE: usize = 4096;

/// What the driver must do after [`SinkSession::receive`].
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Send the replies, then read more.
    Read,
    /// Send the replies (the 220), then start the TLS handshake; unread bytes are dropped.
    StartTls,
    /// Send the replies, then close.
    Close,
}

#[derive(Debug)]
enum Mode {
    ExpectCommand,
    ReceivingData(DataEndScanner),
}

/// One connection's state.
#[derive(Debug)]
pub struct SinkSession {
    mode: Mode,
    hostname: String,
    /// A certificate is loaded and the connection is not yet TLS.
    tls_offered: bool,
    tls_active: bool,
    messages: Arc<AtomicU64>,
}

impl SinkSession {
    pub fn new(hostname: &str, tls_available: bool, messages: Arc<AtomicU64>) -> Self {
        SinkSession {
            mode: Mode::ExpectCommand,
            hostname: hostname.to_owned(),
            tls_offered: tls_available,
            tls_active: false,
            messages,
        }
    }

    /// The greeting.
    pub fn greet(&self, out: &mut Vec<u8>) {
        reply(
            out,
            &["220 ", &self.hostname, " ESMTP posthorn-bench sink\r\n"],
        );
    }

    /// The handshake finished: the client starts over with EHLO.
    pub fn tls_established(&mut self) {
        self.tls_offered = false;
        self.tls_active = true;
        self.mode = Mode::ExpectCommand;
    }

    /// Consumes what it can of `input`, appending replies to `out`. Returns how many
    /// bytes were consumed (the rest is an incomplete line) and what to do next.
    pub fn receive(&mut self, input: &[u8], out: &mut Vec<u8>) -> (usize, Next) {
        let mut consumed = 0;
        loop {
            let rest = &input[consumed..];
            if let Mode::ReceivingData(scanner) = &mut self.mode {
                let Some(end) = scanner.feed(rest) else {
                    return (input.len(), Next::Read);
                };
                consumed += end;
                self.messages.fetch_add(1, Ordering::Relaxed);
                out.extend_from_slice(b"250 2.0.0 Ok: queued\r\n");
                self.mode = Mode::ExpectCommand;
                continue;
            }
            let Some(newline) = memchr::memchr(b'\n', rest) else {
                if rest.len() > MAX_LINE {
                    out.extend_from_slice(b"500 5.5.2 Line too long\r\n");
                    return (input.len(), Next::Close);
                }
                return (consumed, Next::Read);
            };
            consumed += newline + 1;
            match self.command(&rest[..newline], out) {
                Next::Read => {}
                other => return (consumed, other),
            }
        }
    }

    /// Answers one command line (without its LF).
    fn command(&mut self, line: &[u8], out: &mut Vec<u8>) -> Next {
        let verb = line.get(..4).unwrap_or(line);
        let is = |name: &[u8]| verb.eq_ignore_ascii_case(name);
        if is(b"EHLO") {
            self.ehlo(out);
        } else if is(b"HELO") {
            reply(out, &["250 ", &self.hostname, "\r\n"]);
        } else if is(b"MAIL") {
            out.extend_from_slice(b"250 2.1.0 Ok\r\n");
        } else if is(b"RCPT") {
            out.extend_from_slice(b"250 2.1.5 Ok\r\n");
        } else if is(b"DATA") {
            out.extend_from_slice(b"354 End data with <CR><LF>.<CR><LF>\r\n");
            self.mode = Mode::ReceivingData(DataEndScanner::default());
        } else if is(b"RSET") || is(b"NOOP") {
            out.extend_from_slice(b"250 2.0.0 Ok\r\n");
        } else if is(b"QUIT") {
            out.extend_from_slice(b"221 2.0.0 Bye\r\n");
            return Next::Close;
        } else if line.len() >= 8 && line[..8].eq_ignore_ascii_case(b"STARTTLS") {
            return self.starttls(out);
        } else {
            out.extend_from_slice(b"502 5.5.2 Command not recognized\r\n");
        }
        Next::Read
    }

    fn ehlo(&self, out: &mut Vec<u8>) {
        reply(out, &["250-", &self.hostname, "\r\n"]);
        out.extend_from_slice(b"250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 0\r\n");
        if self.tls_offered {
            out.extend_from_slice(b"250-STARTTLS\r\n");
        }
        out.extend_from_slice(b"250 ENHANCEDSTATUSCODES\r\n");
    }

    fn starttls(&mut self, out: &mut Vec<u8>) -> Next {
        if self.tls_active {
            out.extend_from_slice(b"503 5.5.1 TLS already active\r\n");
            Next::Read
        } else if !self.tls_offered {
            out.extend_from_slice(b"502 5.5.1 STARTTLS not available\r\n");
            Next::Read
        } else {
            out.extend_from_slice(b"220 2.0.0 Ready to start TLS\r\n");
            Next::StartTls
        }
    }
}

fn reply(out: &mut Vec<u8>, parts: &[&str]) {
    for part in parts {
        out.extend_from_slice(part.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(tls: bool) -> (SinkSession, Arc<AtomicU64>) {
        let counter = Arc::new(AtomicU64::new(0));
        (
            SinkSession::new("sink.test", tls, Arc::clone(&counter)),
            counter,
        )
    }

    #[test]
    fn pipelined_transaction_is_answered_in_order_in_one_buffer() {
        let (mut sink, counter) = session(false);
        let input = b"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nhello\r\n.\r\nQUIT\r\n";
        let mut out = Vec::new();
        let (consumed, next) = sink.receive(input, &mut out);
        assert_eq!((consumed, next), (input.len(), Next::Close));
        let text = String::from_utf8(out).unwrap();
        let codes: Vec<&str> = text.lines().map(|line| &line[..4]).collect();
        assert_eq!(
            codes,
            ["250-", "250-", "250-", "250-", "250 ", "250 ", "250 ", "354 ", "250 ", "221 "]
        );
        assert_eq!(counter.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn incomplete_line_is_left_for_the_next_read() {
        let (mut sink, _) = session(false);
        let mut out = Vec::new();
        assert_eq!(sink.receive(b"NOOP\r\nMAIL FR", &mut out), (6, Next::Read));
        assert_eq!(out, b"250 2.0.0 Ok\r\n");
    }

    #[test]
    fn body_split_across_reads_is_consumed_and_counted_once() {
        let (mut sink, counter) = session(false);
        let mut out = Vec::new();
        assert_eq!(sink.receive(b"DATA\r\nabc\r", &mut out), (10, Next::Read));
        assert_eq!(sink.receive(b"\n.", &mut out), (2, Next::Read));
        assert_eq!(sink.receive(b"\r\nRSET\r\n", &mut out), (8, Next::Read));
        assert_eq!(counter.load(Ordering::Relaxed), 1);
        assert!(out.ends_with(b"250 2.0.0 Ok: queued\r\n250 2.0.0 Ok\r\n"));
    }

    #[test]
    fn starttls_is_offered_once_and_only_with_a_certificate() {
        let (mut plain, _) = session(false);
        let mut out = Vec::new();
        plain.receive(b"EHLO x\r\nSTARTTLS\r\n", &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("250-STARTTLS"));
        assert!(text.ends_with("502 5.5.1 STARTTLS not available\r\n"));

        let (mut tls, _) = session(true);
        let mut out = Vec::new();
        let input = b"EHLO x\r\nSTARTTLS\r\nEHLO early\r\n";
        assert_eq!(tls.receive(input, &mut out), (18, Next::StartTls));
        assert!(String::from_utf8(out).unwrap().contains("250-STARTTLS\r\n"));
        tls.tls_established();
        let mut out = Vec::new();
        tls.receive(b"EHLO x\r\n", &mut out);
        assert!(!String::from_utf8(out).unwrap().contains("STARTTLS"));
    }
}
