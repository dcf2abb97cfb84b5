//! Shared fixtures for the spool's integration tests.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, UNIX_EPOCH};

use posthorn_proto::{
    BodyType, Domain, ForwardPath, MailParams, Mailbox, Notify, OriginalRecipient, RcptParams, Ret,
    ReversePath,
};
use posthorn_spool::{ClientInfo, Envelope, QueuedMessage, Recipient, Spool};

/// An envelope using every field, with addresses chosen to trip a naive encoder.
pub fn full_envelope() -> Envelope {
    let quoted = Mailbox {
        local_part: "\"odd\\\"\0\r\n local@part\"".into(),
        domain: Domain::Name("exämple.org".into()),
    };
    let literal_v6 = Mailbox {
        local_part: "ops".into(),
        domain: Domain::Literal(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))),
    };
    let literal_v4 = Mailbox {
        local_part: "".into(),
        domain: Domain::Literal(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
    };
    Envelope {
        sender: ReversePath::Mailbox(quoted),
        params: MailParams {
            size: Some(u64::MAX),
            body: Some(BodyType::BinaryMime),
            smtputf8: true,
            ret: Some(Ret::Headers),
            envid: Some("env\r\n.\r\nid".into()),
            auth: Some("<>".into()),
        },
        recipients: vec![
            Recipient::new(
                ForwardPath::Mailbox(literal_v6),
                RcptParams {
                    notify: Some(Notify {
                        never: false,
                        success: true,
                        failure: true,
                        delay: true,
                    }),
                    orcpt: Some(OriginalRecipient {
                        addr_type: "rfc822".into(),
                        address: "orig+tag@example.net".into(),
                    }),
                },
            ),
            Recipient::new(ForwardPath::Postmaster, RcptParams::default()),
            Recipient::new(
                ForwardPath::Mailbox(literal_v4),
                RcptParams {
                    notify: Some(Notify {
                        never: true,
                        ..Notify::default()
                    }),
                    orcpt: None,
                },
            ),
        ],
        client: ClientInfo {
            helo: "[198.51.100.7]".into(),
            address: Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7))),
            hostname: Some("mail.example.com".into()),
            protocol: "ESMTPSA".into(),
            auth_id: Some("ünïcode-user".into()),
            tls_version: Some("TLSv1.3".into()),
        },
        received_at: UNIX_EPOCH + Duration::new(1_700_000_000, 987_654_321),
    }
}

/// The smallest useful envelope: null sender, one recipient, local submission.
pub fn simple_envelope(seconds: u64) -> Envelope {
    Envelope {
        sender: ReversePath::Null,
        params: MailParams::default(),
        recipients: vec![Recipient::new(
            ForwardPath::Postmaster,
            RcptParams::default(),
        )],
        client: ClientInfo {
            helo: "localhost".into(),
            address: None,
            hostname: None,
            protocol: "local".into(),
            auth_id: None,
            tls_version: None,
        },
        received_at: UNIX_EPOCH + Duration::from_secs(seconds),
    }
}

/// Creates, writes and commits one message, blocking.
pub fn queue_message(spool: &Spool, envelope: &Envelope, body: &[u8]) -> QueuedMessage {
    let mut writer = spool.create(envelope).expect("create");
    writer.write(body).expect("write");
    writer.commit().wait().expect("commit")
}

/// A deterministic pseudo-random body (xorshift), so content errors show.
pub fn pseudo_random_body(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}
