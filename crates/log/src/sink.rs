//! Where finished lines go: standard error, a file, or the local syslog socket.
//!
//! Each line is handed over in one `write` (or one datagram) so that several
//! processes appending to the same file never interleave inside a line.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The local syslog socket.
pub const SYSLOG_SOCKET: &str = "/dev/log";

/// Takes one complete record (line plus newline, or one datagram) at a time.
pub trait RecordWriter: Send + Sync + 'static {
    fn write_record(&self, record: &[u8]) -> io::Result<()>;
}

/// Standard error.
#[derive(Debug, Default, Clone, Copy)]
pub struct StderrWriter;

impl RecordWriter for StderrWriter {
    fn write_record(&self, record: &[u8]) -> io::Result<()> {
        io::stderr().lock().write_all(record)
    }
}

/// A file opened for appending (`O_APPEND`), created if missing.
#[derive(Debug)]
pub struct FileWriter {
    file: File,
}

impl FileWriter {
    pub fn open(path: &Path) -> io::Result<FileWriter> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(FileWriter { file })
    }
}

impl RecordWriter for FileWriter {
    fn write_record(&self, record: &[u8]) -> io::Result<()> {
        // `&File` is `Write`; with O_APPEND one write lands whole at the end.
        (&self.file).write_all(record)
    }
}

/// RFC 3164 datagrams to the local syslog socket.
#[derive(Debug)]
pub struct SyslogWriter {
    socket: UnixDatagram,
}

impl SyslogWriter {
    /// Connects to `path` (normally [`SYSLOG_SOCKET`]); fails if nothing listens there.
    pub fn connect(path: &Path) -> io::Result<SyslogWriter> {
        let socket = UnixDatagram::unbound()?;
        socket.connect(path)?;
        Ok(SyslogWriter { socket })
    }
}

impl RecordWriter for SyslogWriter {
    fn write_record(&self, record: &[u8]) -> io::Result<()> {
        self.socket.send(record).map(|_| ())
    }
}

/// Collects records in memory: for tests, and for anyone who wants to capture the log.
#[derive(Debug, Clone, Default)]
pub struct MemoryWriter {
    records: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl MemoryWriter {
    pub fn new() -> MemoryWriter {
        MemoryWriter::default()
    }

    /// Every record so far, as text.
    pub fn records(&self) -> Vec<String> {
        let records = match self.records.lock() {
            Ok(records) => records,
            Err(poisoned) => poisoned.into_inner(),
        };
        records
            .iter()
            .map(|record| String::from_utf8_lossy(record).into_owned())
            .collect()
    }
}

impl RecordWriter for MemoryWriter {
    fn write_record(&self, record: &[u8]) -> io::Result<()> {
        let mut records = match self.records.lock() {
            Ok(records) => records,
            Err(poisoned) => poisoned.into_inner(),
        };
        records.push(record.to_vec());
        Ok(())
    }
}
