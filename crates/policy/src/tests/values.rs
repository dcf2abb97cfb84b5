//! Every tag and every value form.

use posthorn_proto::{EnhancedStatus, Reply};

use super::map;
use crate::{Action, CommonName, RequirementFailure, SrvFeatures, Tag, TlsRequirement, Value};

fn value(tag: Tag, text: &str) -> Value {
    Value::parse(tag, text).unwrap_or_else(|error| panic!("{tag}:{text}: {error}"))
}

#[test]
fn actions_for_connect_from_and_to() {
    let cases = [
        ("OK", Action::Ok),
        ("RELAY", Action::Relay),
        ("relay", Action::Relay),
        ("REJECT", Action::Reject),
        ("DISCARD", Action::Discard),
        ("SKIP", Action::Skip),
    ];
    for tag in [Tag::Connect, Tag::From, Tag::To] {
        for (text, action) in &cases {
            assert_eq!(
                value(tag, text),
                Value::Action(action.clone()),
                "{tag}:{text}"
            );
        }
    }
}

#[test]
fn error_values_in_every_spelling() {
    let expected = Value::Action(Action::Error(Reply::new(
        550,
        EnhancedStatus::new(5, 7, 1),
        "We don't accept mail from spammers",
    )));
    for text in [
        "ERROR:\"550 5.7.1 We don't accept mail from spammers\"",
        "ERROR:550 5.7.1 We don't accept mail from spammers",
        "ERROR:5.7.1:550 We don't accept mail from spammers",
        "ERROR:5.7.1:\"550 We don't accept mail from spammers\"",
        "error:\"550 5.7.1 We don't accept mail from spammers\"",
    ] {
        assert_eq!(value(Tag::From, text), expected, "{text}");
    }
    let temporary = value(Tag::To, "ERROR:\"451 4.3.0 Try later\"");
    assert_eq!(
        temporary,
        Value::Action(Action::Error(Reply::new(
            451,
            EnhancedStatus::new(4, 3, 0),
            "Try later"
        )))
    );
    let without_status = value(Tag::Connect, "ERROR:\"550 Go away\"");
    assert_eq!(
        without_status,
        Value::Action(Action::Error(Reply::new(
            550,
            EnhancedStatus::new(5, 0, 0),
            "Go away"
        )))
    );
}

#[test]
fn try_tls_values() {
    assert_eq!(value(Tag::TryTls, "NO"), Value::TryTls(false));
    assert_eq!(value(Tag::TryTls, "no"), Value::TryTls(false));
    assert_eq!(value(Tag::TryTls, "YES"), Value::TryTls(true));
}

fn requirement(text: &str) -> TlsRequirement {
    TlsRequirement::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"))
}

#[test]
fn tls_requirements() {
    let verify = requirement("VERIFY");
    assert!(verify.verify);
    assert_eq!(verify.min_bits, None);
    assert_eq!(verify.failure, RequirementFailure::Temporary);

    let encr = requirement("ENCR:128");
    assert!(!encr.verify);
    assert_eq!(encr.min_bits, Some(128));

    let full = requirement("PERM+VERIFY:112+CN:smtp.example.net+CS:subject+CI:issuer+CRL");
    assert_eq!(full.failure, RequirementFailure::Permanent);
    assert!(full.verify);
    assert_eq!(full.min_bits, Some(112));
    assert_eq!(
        full.common_name,
        Some(CommonName::Name("smtp.example.net".into()))
    );
    assert_eq!(full.subject.as_deref(), Some("subject"));
    assert_eq!(full.issuer.as_deref(), Some("issuer"));
    assert_eq!(full.extensions, ["CRL"]);
    assert_eq!(
        full.to_string(),
        "PERM+VERIFY:112+CN:smtp.example.net+CS:subject+CI:issuer+CRL"
    );

    let host_cn = requirement("TEMP+verify+CN");
    assert_eq!(host_cn.failure, RequirementFailure::Temporary);
    assert_eq!(host_cn.common_name, Some(CommonName::HostName));

    for tag in [Tag::TlsSrv, Tag::TlsRcpt, Tag::TlsClt] {
        assert_eq!(
            value(tag, "ENCR:256"),
            Value::TlsRequirement(requirement("ENCR:256"))
        );
    }
}

#[test]
fn srv_features_letters() {
    let features = SrvFeatures::parse("S V p").unwrap();
    assert_eq!(features.letters(), "SVp");
    assert_eq!(features.setting('s'), Some(false));
    assert_eq!(features.setting('V'), Some(false));
    assert_eq!(features.setting('p'), Some(true));
    assert_eq!(features.setting('a'), None);
    assert!(!features.temporary_failure());
    assert_eq!(
        SrvFeatures::parse("vV").unwrap().setting('v'),
        Some(false),
        "last wins"
    );
    assert!(SrvFeatures::parse("t").unwrap().temporary_failure());
    for letter in crate::SRV_FEATURE_LETTERS.chars() {
        assert!(SrvFeatures::parse(&letter.to_string()).is_ok(), "{letter}");
    }
    assert_eq!(
        value(Tag::SrvFeatures, "A l"),
        Value::SrvFeatures(SrvFeatures::parse("Al").unwrap())
    );
}

#[test]
fn stored_tags_keep_their_text() {
    for (tag, text) in [
        (Tag::Spam, "FRIEND"),
        (Tag::GreetPause, "5000"),
        (Tag::ClientRate, "10"),
        (Tag::ClientConn, "3"),
    ] {
        assert_eq!(value(tag, text), Value::Text(text.into()));
    }
}

#[test]
fn a_map_with_every_tag() {
    let access = map(
        "Connect:10.0.0 RELAY\nFrom:spam@ REJECT\nTo:example.com RELAY\n\
         Try_TLS:broken.example NO\nTLS_Srv:secure.example VERIFY:128\n\
         TLS_Rcpt:bank.example VERIFY+CN\nTLS_Clt:partner.example ENCR:112\n\
         Srv_Features:10.1 S V\nSpam:friend@ FRIEND\nGreetPause:10.2 5000\n\
         ClientRate:10.3 10\nClientConn:10.4 3\n",
    );
    let tags: Vec<Tag> = access.entries().iter().map(|e| e.tag).collect();
    assert_eq!(tags, Tag::ALL);
    let lines: Vec<usize> = access.entries().iter().map(|e| e.line).collect();
    assert_eq!(lines, (1..=12).collect::<Vec<_>>());
}
