//! The `tracing` layer: turns events into records and hands them to a writer.

use chrono::{DateTime, FixedOffset, Local};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use crate::format::{self, EventKind, MAIL_TARGET, PROGRAM};
use crate::record::Record;
use crate::sink::RecordWriter;
use crate::Format;

/// The source of timestamps; tests pass a fixed one.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<FixedOffset>;
}

/// The system clock in local time (sendmail lines use local time, JSON uses UTC).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<FixedOffset> {
        Local::now().fixed_offset()
    }
}

/// How records are framed for their writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A file or stderr: sendmail lines carry timestamp, host and `posthorn[PID]:`;
    /// JSON lines are the bare object. Each ends with a newline.
    Lines,
    /// A syslog datagram: `<PRI>Mmm dd hh:mm:ss posthorn[PID]: body`, facility mail.
    /// The host name is left out, as glibc's `syslog(3)` does on the local socket,
    /// because local syslog daemons add it themselves.
    Syslog,
}

/// syslog facility `mail` (RFC 3164 §4.1.1).
const FACILITY_MAIL: u8 = 2;

/// The mail-log layer. Build it with [`MailLogLayer::new`], or let [`crate::init`] do it.
pub struct MailLogLayer<W, C = SystemClock> {
    format: Format,
    framing: Framing,
    hostname: String,
    pid: u32,
    writer: W,
    clock: C,
}

impl<W: RecordWriter> MailLogLayer<W, SystemClock> {
    pub fn new(format: Format, framing: Framing, hostname: String, writer: W) -> Self {
        MailLogLayer {
            format,
            framing,
            hostname,
            pid: std::process::id(),
            writer,
            clock: SystemClock,
        }
    }
}

impl<W: RecordWriter, C: Clock> MailLogLayer<W, C> {
    /// Replaces the clock (tests use a fixed time).
    pub fn with_clock<D: Clock>(self, clock: D) -> MailLogLayer<W, D> {
        MailLogLayer {
            format: self.format,
            framing: self.framing,
            hostname: self.hostname,
            pid: self.pid,
            writer: self.writer,
            clock,
        }
    }

    /// Replaces the process id written in `posthorn[PID]` (tests use a fixed one).
    pub fn with_pid(mut self, pid: u32) -> Self {
        self.pid = pid;
        self
    }

    /// The bytes written for one event.
    pub fn render(&self, kind: EventKind, level: Level, record: &Record) -> Vec<u8> {
        let time = self.clock.now();
        let body = match self.format {
            Format::Sendmail => format::sendmail_body(kind, record),
            Format::Json => format::json_line(kind, record, time, &self.hostname),
        };
        let text = match (self.framing, self.format) {
            (Framing::Lines, Format::Sendmail) => format!(
                "{}{body}\n",
                format::sendmail_header(time, &self.hostname, self.pid)
            ),
            (Framing::Lines, Format::Json) => format!("{body}\n"),
            (Framing::Syslog, _) => format!(
                "<{}>{} {PROGRAM}[{}]: {body}",
                syslog_priority(level),
                format::syslog_timestamp(time),
                self.pid
            ),
        };
        text.into_bytes()
    }
}

/// `facility * 8 + severity` (RFC 3164 §4.1.1).
fn syslog_priority(level: Level) -> u8 {
    let severity = match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    };
    FACILITY_MAIL * 8 + severity
}

impl<S, W, C> Layer<S> for MailLogLayer<W, C>
where
    S: Subscriber,
    W: RecordWriter,
    C: Clock,
{
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let metadata = event.metadata();
        let level = *metadata.level();
        let kind = if metadata.target() == MAIL_TARGET {
            EventKind::Mail
        } else {
            EventKind::Diagnostic(level)
        };
        let record = Record::from_event(event);
        // A failed log write has nowhere better to be reported; the event is dropped.
        let _ = self.writer.write_record(&self.render(kind, level, &record));
    }
}
