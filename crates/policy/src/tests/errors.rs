//! Every kind of bad line gives `file:line: message`, and all of them are reported.

use std::path::Path;

use crate::{AccessMap, MapErrorKind, ValueError};

fn errors(text: &str) -> Vec<String> {
    match AccessMap::parse(text, Path::new("/etc/posthorn/access")) {
        Ok(_) => panic!("expected errors for {text:?}"),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

fn single_error(text: &str) -> String {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().unwrap_or_default()
}

#[test]
fn every_bad_line_is_reported_with_its_line() {
    let text = "# header\n\
                Connect:10.1 RELAY\n\
                Try_TSL:example.com NO\n\
                Connect:10.2 ACCEPT\n\
                Try_TLS:example.org MAYBE\n\
                TLS_Srv:example.net VERYFY\n\
                Srv_Features:10.3 SZ\n\
                From:a@b.example\n\
                Connect:IPv6:2001:zz RELAY\n\
                Connect:10.1 REJECT\n\
                To:c.example ERROR:\"250 2.0.0 fine\"\n";
    let errors = errors(text);
    let lines: Vec<&str> = errors
        .iter()
        .map(|e| e.split(": ").next().unwrap_or_default())
        .collect();
    assert_eq!(
        lines,
        (3..=11)
            .map(|n| format!("/etc/posthorn/access:{n}"))
            .collect::<Vec<_>>()
    );
}

#[test]
fn messages_say_what_is_wrong() {
    let message = single_error("Try_TSL:example.com NO\n");
    assert!(
        message.starts_with("/etc/posthorn/access:1: unknown tag `Try_TSL:`"),
        "{message}"
    );

    let message = single_error("\nConnect:10.2 ACCEPT\n");
    assert!(
        message.starts_with(
            "/etc/posthorn/access:2: Connect:10.2: `ACCEPT` is not a valid Connect: value"
        ),
        "{message}"
    );
    assert!(message.contains("RELAY"), "{message}");

    let message = single_error("Try_TLS:example.org MAYBE\n");
    assert!(message.contains("expected one of NO, YES"), "{message}");

    let message = single_error("From:a@b.example\n");
    assert!(
        message.ends_with("From:a@b.example: missing value"),
        "{message}"
    );

    let message = single_error("Connect:10.1 OK\nconnect:10.1 REJECT\n");
    assert!(
        message.contains(":2: duplicate key Connect:10.1; the first is at line 1"),
        "{message}"
    );

    let message = single_error("Srv_Features:10.3 SZ\n");
    assert!(
        message.contains("bad Srv_Features: letter 'Z'"),
        "{message}"
    );
}

#[test]
fn bad_error_values() {
    for text in [
        "ERROR:\"250 2.0.0 fine\"",
        "ERROR:\"550 4.7.1 mixed\"",
        "ERROR:nonsense",
        "ERROR:5.7.1:abc text",
        "ERROR:\"550 5.999999.1 x\"",
    ] {
        let message = single_error(&format!("To:c.example {text}\n"));
        assert!(message.contains("bad ERROR value"), "{text}: {message}");
    }
}

#[test]
fn bad_tls_requirements() {
    for text in [
        "VERYFY",
        "ENCR",
        "ENCR:lots",
        "VERIFY+",
        "VERIFY+CS",
        "TEMP+",
        "+CN",
    ] {
        let message = single_error(&format!("TLS_Srv:example.net {text}\n"));
        assert!(message.contains("bad TLS_Srv: value"), "{text}: {message}");
    }
}

#[test]
fn error_kinds_are_typed() {
    let Err(errors) = AccessMap::parse(
        "Connect:IPv6:1:2:3:4:5:6:7:8:9 OK\nTo:x OK OK\n",
        Path::new("m"),
    ) else {
        panic!("expected errors");
    };
    assert!(matches!(errors.0[0].kind, MapErrorKind::Key { .. }));
    assert!(matches!(
        errors.0[1].kind,
        MapErrorKind::Value {
            reason: ValueError::Unknown { .. },
            ..
        }
    ));
    assert_eq!(errors.0[1].line, Some(2));
}

#[test]
fn unreadable_file() {
    let Err(errors) = AccessMap::load(Path::new("/nonexistent/access")) else {
        panic!("expected an error");
    };
    assert_eq!(errors.0.len(), 1);
    assert!(matches!(errors.0[0].kind, MapErrorKind::Read(_)));
    assert!(errors
        .to_string()
        .starts_with("/nonexistent/access: cannot read the map"));
}

#[test]
fn load_reads_a_file() {
    let path = std::env::temp_dir().join(format!("posthorn-access-{}", std::process::id()));
    std::fs::write(&path, "Try_TLS:broken.example NO\n").unwrap();
    let loaded = AccessMap::load(&path);
    std::fs::remove_file(&path).unwrap();
    let access = loaded.unwrap();
    assert_eq!(access.path(), Some(path.as_path()));
    assert_eq!(access.len(), 1);
}
