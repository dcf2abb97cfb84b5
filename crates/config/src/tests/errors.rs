//! Each config error, with its file:line:column.

use std::ffi::OsString;
use std::path::Path;

use super::error_of;
use crate::*;

#[test]
fn unknown_key_is_reported_with_file_line_and_column() {
    let text = "hostname = \"a.example\"\n\n\n\n\n\nspooll = \"/tmp\"\n";
    let error = error_of(text);
    assert_eq!(error.position, Some(Position { line: 7, column: 1 }));
    let message = error.to_string();
    assert!(
        message.starts_with("posthorn.toml:7:1: unknown field `spooll`, expected one of"),
        "{message}"
    );
    assert!(message.contains("`spool`"), "{message}");
}

#[test]
fn unknown_key_in_a_table() {
    let error = error_of("[outbound]\nstarttls = \"opportunistic\"\nstartls = \"off\"\n");
    assert_eq!(error.position.map(|p| p.line), Some(3));
    assert!(
        error.to_string().contains("unknown field `startls`"),
        "{error}"
    );
}

#[test]
fn toml_syntax_error_has_a_position() {
    let error = error_of("hostname = \"a.example\"\nspool = \n");
    assert!(matches!(error.kind, ConfigErrorKind::Toml(_)));
    assert_eq!(error.position.map(|p| p.line), Some(2));
}

#[test]
fn unknown_enum_values_list_the_accepted_ones() {
    let cases = [
        (
            "[[listener]]\naddress = \"0.0.0.0:25\"\nkind = \"lmtp\"\n",
            3,
            &["mta", "submission", "smtps"][..],
        ),
        (
            "[outbound]\nstarttls = \"always\"\n",
            2,
            &["off", "opportunistic", "required", "verified"],
        ),
        (
            "[outbound]\ntls_failure = \"bounce\"\n",
            2,
            &["plaintext", "defer"],
        ),
        (
            "[outbound]\nplaintext_retry = \"later\"\n",
            2,
            &["immediate", "next_attempt"],
        ),
        ("[log]\nformat = \"xml\"\n", 2, &["sendmail", "json"]),
    ];
    for (text, line, accepted) in cases {
        let error = error_of(text);
        let message = error.to_string();
        assert_eq!(error.position.map(|p| p.line), Some(line), "{message}");
        assert!(message.contains("unknown variant"), "{message}");
        for value in accepted {
            assert!(
                message.contains(&format!("`{value}`")),
                "{message} lacks {value}"
            );
        }
    }
}

#[test]
fn bad_duration() {
    let error = error_of("hostname = \"a.example\"\n[queue]\nwarn_after = \"4 fortnights\"\n");
    assert!(matches!(
        error.kind,
        ConfigErrorKind::Duration {
            key: "queue.warn_after",
            ..
        }
    ));
    assert_eq!(
        error.position,
        Some(Position {
            line: 3,
            column: 14
        })
    );
    assert!(error
        .to_string()
        .starts_with("posthorn.toml:3:14: `queue.warn_after`: invalid duration"));
    let error = error_of("[timeouts]\ncommand = \"300\"\n");
    assert!(matches!(
        error.kind,
        ConfigErrorKind::Duration {
            key: "timeouts.command",
            ..
        }
    ));
}

#[test]
fn bad_size() {
    let error = error_of("hostname = \"a.example\"\n[limits]\nmessage_size = \"50XB\"\n");
    assert!(matches!(
        error.kind,
        ConfigErrorKind::Size {
            key: "limits.message_size",
            error: SizeError::UnknownUnit(..)
        }
    ));
    assert_eq!(error.position.map(|p| p.line), Some(3));
}

#[test]
fn zero_limits_are_rejected() {
    for key in ["recipients", "sessions", "errors", "message_size"] {
        let error = error_of(&format!("[limits]\n{key} = 0\n"));
        assert!(
            matches!(error.kind, ConfigErrorKind::Zero { .. }),
            "{key}: {error}"
        );
        assert_eq!(error.position.map(|p| p.line), Some(2), "{key}");
    }
    let error = error_of("[outbound]\nport = 0\n");
    assert!(matches!(
        error.kind,
        ConfigErrorKind::Zero {
            key: "outbound.port"
        }
    ));
}

#[test]
fn zero_concurrency_and_reuse_are_rejected() {
    let cases = [
        ("queue", "delivery_concurrency"),
        ("outbound", "destination_concurrency"),
        ("outbound", "messages_per_connection"),
    ];
    for (table, key) in cases {
        let error = error_of(&format!("hostname = \"a.example\"\n[{table}]\n{key} = 0\n"));
        let expected = format!("{table}.{key}");
        assert!(
            matches!(error.kind, ConfigErrorKind::Zero { key } if key == expected),
            "{expected}: {error}"
        );
        assert_eq!(
            error.position,
            Some(Position {
                line: 3,
                column: key.len() + 4
            }),
            "{expected}"
        );
        assert_eq!(
            error.to_string(),
            format!(
                "posthorn.toml:3:{}: `{expected}` must be at least 1",
                key.len() + 4
            )
        );
    }
}

#[test]
fn zero_retry_min_and_connect_timeout_are_rejected() {
    for (table, key) in [("queue", "retry_min"), ("outbound", "connect_timeout")] {
        let error = error_of(&format!("[{table}]\n{key} = \"0s\"\n"));
        let expected = format!("{table}.{key}");
        assert!(
            matches!(error.kind, ConfigErrorKind::ZeroDuration { key } if key == expected),
            "{expected}: {error}"
        );
        assert_eq!(error.position.map(|p| p.line), Some(2), "{expected}");
    }
}

#[test]
fn retry_min_longer_than_retry_max_is_rejected() {
    let error = error_of("[queue]\nretry_min = \"2h\"\nretry_max = \"30m\"\n");
    assert!(matches!(
        error.kind,
        ConfigErrorKind::DurationOrder {
            smaller: "queue.retry_min",
            larger: "queue.retry_max",
            ..
        }
    ));
    assert_eq!(
        error.to_string(),
        "posthorn.toml:3:13: `queue.retry_min` (2h) must not be longer than `queue.retry_max` (30m)"
    );
    // Only retry_min set, beyond the default retry_max of 1h: the error points at it.
    let error = error_of("hostname = \"a.example\"\n[queue]\nretry_min = \"2h\"\n");
    assert!(matches!(error.kind, ConfigErrorKind::DurationOrder { .. }));
    assert_eq!(
        error.position,
        Some(Position {
            line: 3,
            column: 13
        })
    );
}

#[test]
fn bad_connect_timeout() {
    let error = error_of("[outbound]\nconnect_timeout = \"soon\"\n");
    assert!(matches!(
        error.kind,
        ConfigErrorKind::Duration {
            key: "outbound.connect_timeout",
            ..
        }
    ));
    assert_eq!(error.position.map(|p| p.line), Some(2));
}

#[test]
fn bad_tls_failure_memory() {
    let error = error_of("[outbound]\n\ntls_failure_memory = \"a while\"\n");
    assert!(matches!(
        error.kind,
        ConfigErrorKind::Duration {
            key: "outbound.tls_failure_memory",
            ..
        }
    ));
    assert_eq!(error.position.map(|p| p.line), Some(3));
}

#[test]
fn bad_listener_address() {
    let error = error_of("[[listener]]\naddress = \"localhost:25\"\n");
    assert!(
        matches!(&error.kind, ConfigErrorKind::ListenerAddress(text) if text == "localhost:25")
    );
    assert_eq!(error.position.map(|p| p.line), Some(2));
    let error = error_of("[[listener]]\naddress = \"0.0.0.0\"\n");
    assert!(matches!(error.kind, ConfigErrorKind::ListenerAddress(_)));
}

#[test]
fn two_listeners_on_one_address() {
    let text = "[[listener]]\naddress = \"0.0.0.0:25\"\n\n[[listener]]\naddress = \"0.0.0.0:25\"\nkind = \"submission\"\n";
    let error = error_of(text);
    assert!(matches!(
        error.kind,
        ConfigErrorKind::DuplicateListener { first_line: 2, .. }
    ));
    assert_eq!(error.position.map(|p| p.line), Some(5));
    assert!(error
        .to_string()
        .contains("two listeners on 0.0.0.0:25; the first is at line 2"));
}

#[test]
fn bad_network() {
    let error = error_of("[relay]\nnetworks = [\"10.0.0.0/8\",\n  \"10.0.0.0/33\"]\n");
    assert!(matches!(&error.kind, ConfigErrorKind::Network { text, .. } if text == "10.0.0.0/33"));
    assert_eq!(error.position, Some(Position { line: 3, column: 3 }));
}

#[test]
fn bad_nameserver() {
    let error = error_of("[dns]\nnameservers = [\"ns1.example.com\"]\n");
    assert!(matches!(error.kind, ConfigErrorKind::Nameserver(_)));
    assert_eq!(error.position.map(|p| p.line), Some(2));
}

#[test]
fn bad_hostname() {
    for text in [
        "hostname = \"\"\n",
        "hostname = \"mx_1.example.com\"\n",
        "hostname = \"a..b\"\n",
    ] {
        let error = error_of(text);
        assert!(
            matches!(error.kind, ConfigErrorKind::Hostname { .. }),
            "{text}: {error}"
        );
        assert_eq!(
            error.position,
            Some(Position {
                line: 1,
                column: 12
            }),
            "{text}"
        );
    }
}

#[test]
fn bad_relay_domain() {
    let error = error_of("[relay]\ndomains = [\"ok.example\", \"bad domain\"]\n");
    assert!(matches!(error.kind, ConfigErrorKind::RelayDomain { .. }));
}

#[test]
fn log_file_and_syslog_conflict() {
    let error = error_of("[log]\nfile = \"/var/log/mail\"\nsyslog = true\n");
    assert!(matches!(
        error.kind,
        ConfigErrorKind::LogDestinationConflict
    ));
    assert_eq!(error.position.map(|p| p.line), Some(3));
}

#[test]
fn two_auth_backends_conflict_at_the_second() {
    let text = "[auth]\npassword_file = \"/etc/posthorn/passwd\"\n\ndovecot_socket = \"/run/dovecot/auth-client\"\n";
    let error = error_of(text);
    assert!(matches!(error.kind, ConfigErrorKind::AuthBackendConflict));
    assert_eq!(error.position.map(|p| p.line), Some(4));
    assert!(
        error
            .to_string()
            .starts_with("posthorn.toml:4:18: `auth.password_file` and"),
        "{error}"
    );
}

#[test]
fn zero_auth_failure_window_is_refused() {
    let error = error_of("[auth]\nfailure_window = \"0s\"\n");
    assert!(matches!(
        error.kind,
        ConfigErrorKind::ZeroDuration {
            key: "auth.failure_window"
        }
    ));
    assert_eq!(error.position.map(|p| p.line), Some(2));
}

#[test]
fn wrong_type_is_a_toml_error() {
    let error = error_of("[outbound]\nport = \"25\"\n");
    assert!(matches!(error.kind, ConfigErrorKind::Toml(_)));
    assert_eq!(error.position.map(|p| p.line), Some(2));
}

#[test]
fn unreadable_file_names_the_file() {
    let error = Config::read(Path::new("/nonexistent/posthorn.toml")).unwrap_err();
    assert!(matches!(error.kind, ConfigErrorKind::Read(_)));
    assert!(error
        .to_string()
        .starts_with("/nonexistent/posthorn.toml: cannot read"));
}

#[test]
fn config_file_search_order() {
    let explicit = Path::new("/explicit.toml");
    let missing = Path::new("/nonexistent/posthorn.toml");
    let existing = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let env = || Some(OsString::from("/from-env.toml"));
    assert_eq!(
        choose_config_file(Some(explicit), env(), &existing),
        Some(explicit.into())
    );
    assert_eq!(
        choose_config_file(None, env(), &existing),
        Some("/from-env.toml".into())
    );
    assert_eq!(
        choose_config_file(None, Some(OsString::new()), &existing),
        Some(existing.clone())
    );
    assert_eq!(choose_config_file(None, None, &existing), Some(existing));
    assert_eq!(choose_config_file(None, None, missing), None);
}

#[test]
fn bad_inbound_tls_failure_memory() {
    let error = error_of("[inbound]\ntls_failure_memory = \"soon\"\n");
    assert!(matches!(
        error.kind,
        ConfigErrorKind::Duration {
            key: "inbound.tls_failure_memory",
            ..
        }
    ));
    assert_eq!(error.position.map(|p| p.line), Some(2));
    let error = error_of("[inbound]\ntls_failure = \"plaintext\"\n");
    assert!(error.to_string().contains("tls_failure"), "{error}");
}
