//! Mailertable: every value form, sendmail's lookup order, and every kind of bad line.

use std::path::Path;

use posthorn_proto::EnhancedStatus;

use super::*;

fn table(text: &str) -> Mailertable {
    match Mailertable::parse(text, Path::new("mailertable")) {
        Ok(table) => table,
        Err(errors) => panic!("table should parse:\n{errors}"),
    }
}

/// The target of a one-line table `example.com VALUE`.
fn target(value: &str) -> MailerTarget {
    let table = table(&format!("example.com {value}\n"));
    table.lookup("example.com").unwrap().target.clone()
}

fn smtp(host: MailerHost) -> MailerTarget {
    MailerTarget::Smtp { host }
}

fn mx(host: &str, port: Option<u16>) -> MailerTarget {
    smtp(MailerHost::Mx {
        host: host.into(),
        port,
    })
}

fn direct(host: &str, port: Option<u16>) -> MailerTarget {
    smtp(MailerHost::Direct {
        host: host.into(),
        port,
    })
}

fn error(code: u16, status: (u8, u16, u16), text: &str) -> MailerTarget {
    MailerTarget::Error {
        code,
        status: EnhancedStatus::new(status.0, status.1, status.2),
        text: text.into(),
    }
}

fn errors(text: &str) -> Vec<String> {
    match Mailertable::parse(text, Path::new("/etc/posthorn/mailertable")) {
        Ok(_) => panic!("expected errors for {text:?}"),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn every_smtp_mailer_means_smtp() {
    for mailer in ["esmtp", "smtp", "smtp8", "dsmtp", "relay", "ESMTP"] {
        assert_eq!(
            target(&format!("{mailer}:mail.example.net")),
            mx("mail.example.net", None),
            "{mailer}"
        );
    }
}

#[test]
fn host_forms() {
    let cases = [
        ("esmtp:Mail.Example.NET.", mx("mail.example.net", None)),
        (
            "esmtp:mail.example.net:2525",
            mx("mail.example.net", Some(2525)),
        ),
        (
            "esmtp:[relay.example.net]",
            direct("relay.example.net", None),
        ),
        (
            "esmtp:[relay.example.net]:587",
            direct("relay.example.net", Some(587)),
        ),
        ("smtp:[192.0.2.1]", direct("192.0.2.1", None)),
        ("smtp:[192.0.2.1]:25", direct("192.0.2.1", Some(25))),
        ("smtp:192.0.2.1", direct("192.0.2.1", None)),
        ("relay:[IPv6:2001:DB8:0::1]", direct("2001:db8::1", None)),
        (
            "relay:[ipv6:2001:db8::1]:2525",
            direct("2001:db8::1", Some(2525)),
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(target(value), expected, "{value}");
    }
}

#[test]
fn error_mailer_forms() {
    let cases = [
        (
            "error:5.1.1:550 User unknown here",
            error(550, (5, 1, 1), "User unknown here"),
        ),
        (
            "error:550 No such domain",
            error(550, (5, 0, 0), "No such domain"),
        ),
        ("error:550 5.7.1 Go away", error(550, (5, 7, 1), "Go away")),
        (
            "error:\"550 5.7.1 quoted # not a comment\"",
            error(550, (5, 7, 1), "quoted # not a comment"),
        ),
        ("error:nohost", error(550, (5, 1, 2), "Host unknown")),
        ("ERROR:nouser", error(550, (5, 1, 1), "User unknown")),
        (
            "error:nohost This host is retired",
            error(550, (5, 1, 2), "This host is retired"),
        ),
        (
            "error:4.7.0:451 Try again later",
            error(451, (4, 7, 0), "Try again later"),
        ),
        ("error:554", error(554, (5, 0, 0), "Service unavailable")),
        ("error:tempfail", error(450, (4, 2, 0), "Deferred")),
    ];
    for (value, expected) in cases {
        assert_eq!(target(value), expected, "{value}");
    }
}

#[test]
fn lookup_order_is_sendmails() {
    assert_eq!(
        lookup_keys("A.B.Example.COM."),
        [
            "a.b.example.com",
            ".b.example.com",
            ".example.com",
            ".com",
            "."
        ]
    );
    assert_eq!(lookup_keys("com"), ["com", "."]);
}

#[test]
fn the_most_specific_key_wins() {
    let table = table(
        "# comment\n\
         .                   relay:[smart.example.net]\n\
         .com                esmtp:dot-com.example.net\n\
         .example.com        esmtp:sub.example.net\n\
         a.b.example.com     esmtp:exact.example.net   # inline comment\n",
    );
    let line_for = |domain: &str| table.lookup(domain).map(|entry| entry.line);
    assert_eq!(line_for("a.b.example.com"), Some(5));
    assert_eq!(line_for("A.B.EXAMPLE.COM."), Some(5));
    assert_eq!(line_for("c.b.example.com"), Some(4));
    assert_eq!(line_for("b.example.com"), Some(4));
    assert_eq!(
        line_for("example.com"),
        Some(3),
        "`.example.com` is not example.com"
    );
    assert_eq!(line_for("example.org"), Some(2), "the catch-all");
    assert_eq!(
        table.lookup("example.com").map(|e| e.key.as_str()),
        Some(".com")
    );
    assert_eq!(table.len(), 4);
}

#[test]
fn a_dot_key_matches_only_subdomains() {
    let table = table(".example.com esmtp:sub.example.net\n");
    assert!(table.lookup("example.com").is_none());
    assert!(table.lookup("x.example.com").is_some());
    assert!(table.lookup("x.example.org").is_none());
}

#[test]
fn the_default_table_is_empty_and_has_no_path() {
    let table = Mailertable::default();
    assert!(table.is_empty());
    assert_eq!(table.path(), None);
    assert!(table.lookup("example.com").is_none());
}

#[test]
fn every_bad_line_is_reported_with_file_and_line() {
    let text = "example.org esmtp:good.example.net\n\
                a.example local:user\n\
                b.example procmail:/etc/procmailrc\n\
                c.example\n\
                d.example mail.example.net\n\
                e.example esmtp:\n\
                f.example esmtp:[unclosed\n\
                g.example esmtp:host:port\n\
                h.example esmtp:[host]junk\n\
                i.example error:250 fine\n\
                j.example error:4.1.1:550 mixed\n\
                k.example error:bogus\n\
                example.org esmtp:again.example.net\n\
                l.example esmtp:[IPv6:zz::1]\n\
                m.example esmtp:host1:host2\n";
    let errors = errors(text);
    let lines: Vec<String> = errors
        .iter()
        .map(|e| e.split(": ").next().unwrap_or_default().to_owned())
        .collect();
    let expected: Vec<String> = (2..=15)
        .map(|n| format!("/etc/posthorn/mailertable:{n}"))
        .collect();
    assert_eq!(lines, expected, "{errors:#?}");
}

#[test]
fn messages_say_what_is_wrong() {
    let text = "a.example local:user\n\
                b.example\n\
                c.example esmtp:host1:host2\n\
                d.example error:5.1.1:abc\n\
                D.Example. esmtp:x.example\n";
    let errors = errors(text);
    let expected = [
        "mailertable:1: mailer `local:` is not supported: Posthorn delivers over SMTP only",
        "mailertable:2: `b.example` has no value; expected `mailer:host`",
        "mailertable:3: bad host `host1:host2`: expected a port number",
        "mailertable:4: bad error: value `5.1.1:abc`: expected a reply code",
        "mailertable:5: duplicate key `d.example`; the first is at line 4",
    ];
    for (message, start) in errors.iter().zip(expected) {
        assert!(
            message.contains(start),
            "{message}\n should contain: {start}"
        );
    }
    assert_eq!(errors.len(), 4, "line 4 is bad, so line 5 is no duplicate");
}

#[test]
fn error_kinds_are_typed() {
    let Err(errors) = Mailertable::parse("x local:user\n", Path::new("m")) else {
        panic!("expected errors");
    };
    assert!(matches!(
        &errors.0[0].kind,
        MailertableErrorKind::NotSmtp { mailer } if mailer == "local"
    ));
    assert_eq!(errors.0[0].line, Some(1));
}

#[test]
fn load_reads_the_file_and_keeps_its_path() {
    let directory = std::env::temp_dir().join(format!("posthorn-mt-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("mailertable");
    std::fs::write(&path, "example.com esmtp:[relay.example.net]:2525\n").unwrap();
    let table = Mailertable::load(&path).unwrap();
    std::fs::remove_dir_all(&directory).unwrap();
    assert_eq!(table.path(), Some(path.as_path()));
    assert_eq!(
        table.lookup("example.com").map(|e| e.target.clone()),
        Some(direct("relay.example.net", Some(2525)))
    );
}

#[test]
fn an_unreadable_file_is_one_error_without_a_line() {
    let Err(errors) = Mailertable::load(Path::new("/nonexistent/mailertable")) else {
        panic!("expected an error");
    };
    assert_eq!(errors.0.len(), 1);
    assert!(matches!(errors.0[0].kind, MailertableErrorKind::Read(_)));
    assert_eq!(errors.0[0].line, None);
}
