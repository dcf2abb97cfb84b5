//! Events in, exact lines out, with a fixed clock and process id.

use chrono::{DateTime, FixedOffset, TimeZone};
use tracing_subscriber::layer::SubscriberExt;

use super::*;

#[derive(Clone, Copy)]
struct FixedClock(DateTime<FixedOffset>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<FixedOffset> {
        self.0
    }
}

fn november_20(offset_hours: i32) -> FixedClock {
    let zone = FixedOffset::east_opt(offset_hours * 3600).unwrap();
    let time = zone.with_ymd_and_hms(2026, 11, 20, 23, 19, 53).unwrap();
    FixedClock(time + chrono::Duration::milliseconds(123))
}

/// Runs `emit` with a layer writing to memory, and returns the records written.
fn capture(
    format: Format,
    framing: Framing,
    filter: Option<&str>,
    emit: impl FnOnce(),
) -> Vec<String> {
    let writer = MemoryWriter::new();
    let layer = MailLogLayer::new(format, framing, "mx.example.com".into(), writer.clone())
        .with_clock(november_20(0))
        .with_pid(4242);
    let subscriber = tracing_subscriber::registry()
        .with(filter_from(filter).unwrap())
        .with(layer);
    tracing::subscriber::with_default(subscriber, emit);
    writer.records()
}

fn accepted_message() {
    tracing::info!(target: "posthorn::mail", qid = %"qAKNj3AB012345", from = %"<a@b>", size = 123,
        nrcpts = 1, msgid = %"<x@y>", proto = "ESMTP", relay = %"localhost [127.0.0.1]");
}

#[test]
fn sendmail_mail_line() {
    let lines = capture(Format::Sendmail, Framing::Lines, None, accepted_message);
    assert_eq!(
        lines,
        [
            "Nov 20 23:19:53 mx.example.com posthorn[4242]: qAKNj3AB012345: from=<a@b>, size=123, \
          nrcpts=1, msgid=<x@y>, proto=ESMTP, relay=localhost [127.0.0.1]\n"
        ]
    );
}

#[test]
fn sendmail_lines_without_qid_with_message_and_quoted_error() {
    let lines = capture(Format::Sendmail, Framing::Lines, None, || {
        tracing::info!(target: "posthorn::mail", STARTTLS = "client", relay = %"mx.example.net",
            verify = "SOFTWARE", error = %"handshake \"failed\"", action = "plaintext");
        tracing::info!(target: "posthorn::mail", qid = %"q1", "lost input channel");
        tracing::info!(target: "posthorn::mail", qid = %"q2", reason = %"two\r\nlines", "daemon message");
    });
    assert_eq!(
        lines,
        [
            "Nov 20 23:19:53 mx.example.com posthorn[4242]: STARTTLS=client, relay=mx.example.net, \
             verify=SOFTWARE, error=\"handshake \\\"failed\\\"\", action=plaintext\n",
            "Nov 20 23:19:53 mx.example.com posthorn[4242]: q1: lost input channel\n",
            "Nov 20 23:19:53 mx.example.com posthorn[4242]: q2: daemon message, reason=two  lines\n",
        ]
    );
}

#[test]
fn sendmail_day_is_space_padded_and_local() {
    let writer = MemoryWriter::new();
    let zone = FixedOffset::east_opt(2 * 3600).unwrap();
    let clock = FixedClock(zone.with_ymd_and_hms(2026, 3, 5, 9, 1, 2).unwrap());
    let layer = MailLogLayer::new(Format::Sendmail, Framing::Lines, "h".into(), writer.clone())
        .with_clock(clock)
        .with_pid(7);
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(target: "posthorn::mail", qid = %"q", stat = %"Sent (ok)");
    });
    assert_eq!(
        writer.records(),
        ["Mar  5 09:01:02 h posthorn[7]: q: stat=Sent (ok)\n"]
    );
}

#[test]
fn diagnostics_at_info_and_above() {
    let lines = capture(Format::Sendmail, Framing::Lines, None, || {
        tracing::info!(listener = %"127.0.0.1:2525", kind = "mta", "listening");
        tracing::warn!(path = "/etc/posthorn/access", "map reloaded with errors");
        tracing::error!("spool unwritable");
        tracing::debug!("not written at the default level");
    });
    assert_eq!(
        lines,
        [
            "Nov 20 23:19:53 mx.example.com posthorn[4242]: info: listening listener=127.0.0.1:2525 kind=mta\n",
            "Nov 20 23:19:53 mx.example.com posthorn[4242]: warn: map reloaded with errors path=/etc/posthorn/access\n",
            "Nov 20 23:19:53 mx.example.com posthorn[4242]: error: spool unwritable\n",
        ]
    );
}

#[test]
fn json_mail_line_keeps_order_and_types() {
    let lines = capture(Format::Json, Framing::Lines, None, accepted_message);
    assert_eq!(
        lines,
        ["{\"time\":\"2026-11-20T23:19:53.123Z\",\"host\":\"mx.example.com\",\"qid\":\"qAKNj3AB012345\",\
          \"from\":\"<a@b>\",\"size\":123,\"nrcpts\":1,\"msgid\":\"<x@y>\",\"proto\":\"ESMTP\",\
          \"relay\":\"localhost [127.0.0.1]\"}\n"]
    );
    let parsed: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(parsed["size"], serde_json::json!(123));
    assert!(parsed["size"].is_u64());
    assert!(parsed["proto"].is_string());
}

#[test]
fn json_types_and_diagnostics() {
    let lines = capture(Format::Json, Framing::Lines, None, || {
        tracing::info!(target: "posthorn::mail", qid = %"q", attempts = -1i64, ratio = 0.5,
            tls = true, "note");
        tracing::warn!(peer = %"192.0.2.1", "slow \"peer\"");
    });
    assert_eq!(
        lines,
        [
            "{\"time\":\"2026-11-20T23:19:53.123Z\",\"host\":\"mx.example.com\",\"qid\":\"q\",\
             \"message\":\"note\",\"attempts\":-1,\"ratio\":0.5,\"tls\":true}\n",
            "{\"time\":\"2026-11-20T23:19:53.123Z\",\"host\":\"mx.example.com\",\"level\":\"warn\",\
             \"message\":\"slow \\\"peer\\\"\",\"peer\":\"192.0.2.1\"}\n",
        ]
    );
    for line in &lines {
        let parsed: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(parsed.is_object());
    }
}

#[test]
fn json_time_is_utc() {
    let writer = MemoryWriter::new();
    let layer = MailLogLayer::new(Format::Json, Framing::Lines, "h".into(), writer.clone())
        .with_clock(november_20(-5));
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!(target: "posthorn::mail", qid = %"q");
    });
    let parsed: serde_json::Value = serde_json::from_str(&writer.records()[0]).unwrap();
    assert_eq!(parsed["time"], "2026-11-21T04:19:53.123Z");
}

#[test]
fn syslog_datagrams_carry_priority_and_no_newline() {
    let lines = capture(Format::Sendmail, Framing::Syslog, None, || {
        accepted_message();
        tracing::error!("spool unwritable");
        tracing::warn!(target: "posthorn::mail", qid = %"q", stat = %"Deferred: timeout");
    });
    assert_eq!(
        lines,
        [
            "<22>Nov 20 23:19:53 posthorn[4242]: qAKNj3AB012345: from=<a@b>, size=123, nrcpts=1, \
             msgid=<x@y>, proto=ESMTP, relay=localhost [127.0.0.1]",
            "<19>Nov 20 23:19:53 posthorn[4242]: error: spool unwritable",
            "<20>Nov 20 23:19:53 posthorn[4242]: q: stat=Deferred: timeout",
        ]
    );
}

#[test]
fn filter_lowers_diagnostics_but_keeps_the_mail_log() {
    let lines = capture(Format::Sendmail, Framing::Lines, Some("error"), || {
        tracing::warn!("hidden");
        accepted_message();
    });
    assert_eq!(lines.len(), 1);
    assert!(lines[0].contains("qAKNj3AB012345: from=<a@b>"));

    let lines = capture(Format::Sendmail, Framing::Lines, Some("debug"), || {
        tracing::debug!("shown");
    });
    assert_eq!(lines.len(), 1);

    let lines = capture(
        Format::Sendmail,
        Framing::Lines,
        Some("posthorn::mail=off"),
        accepted_message,
    );
    assert!(lines.is_empty());
}

#[test]
fn bad_filter_is_an_error() {
    assert!(matches!(
        filter_from(Some("info,[bad")),
        Err(LogError::Filter { .. })
    ));
}

#[test]
fn file_writer_appends_whole_lines() {
    let path = std::env::temp_dir().join(format!("posthorn-log-test-{}", std::process::id()));
    std::fs::write(&path, "existing\n").unwrap();
    let writer = FileWriter::open(&path).unwrap();
    writer.write_record(b"one\n").unwrap();
    FileWriter::open(&path)
        .unwrap()
        .write_record(b"two\n")
        .unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(text, "existing\none\ntwo\n");
}

#[test]
fn syslog_writer_sends_one_datagram_per_record() {
    let directory =
        std::env::temp_dir().join(format!("posthorn-syslog-test-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let socket_path = directory.join("log");
    let _ = std::fs::remove_file(&socket_path);
    let server = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    let writer = SyslogWriter::connect(&socket_path).unwrap();
    writer.write_record(b"<22>first").unwrap();
    writer.write_record(b"<22>second").unwrap();
    let mut buffer = [0u8; 64];
    let first = server.recv(&mut buffer).unwrap();
    assert_eq!(&buffer[..first], b"<22>first");
    let second = server.recv(&mut buffer).unwrap();
    assert_eq!(&buffer[..second], b"<22>second");
    std::fs::remove_dir_all(&directory).unwrap();
    assert!(
        SyslogWriter::connect(&socket_path).is_err(),
        "no listener, no writer"
    );
}

#[test]
fn sendmail_bodies_escape_quoted_values_and_name_every_level() {
    let record = Record {
        message: None,
        qid: Some("q3".into()),
        fields: vec![
            ("error", FieldValue::Str(r#"a\b "c""#.into())),
            ("relay", FieldValue::Str(r#"x\y "z""#.into())),
            ("tries", FieldValue::U64(2)),
        ],
    };
    assert_eq!(
        sendmail_body(EventKind::Mail, &record),
        r#"q3: error="a\\b \"c\"", relay=x\y "z", tries=2"#
    );
    let levels = [
        (tracing::Level::ERROR, "error"),
        (tracing::Level::WARN, "warn"),
        (tracing::Level::INFO, "info"),
        (tracing::Level::DEBUG, "debug"),
        (tracing::Level::TRACE, "trace"),
    ];
    let bare = Record {
        message: Some("spool\r\nunwritable".into()),
        ..Record::default()
    };
    for (level, name) in levels {
        assert_eq!(
            sendmail_body(EventKind::Diagnostic(level), &bare),
            format!("{name}: spool  unwritable")
        );
    }
}
