//! A client session that sends one message, fed arbitrary server bytes. Input: a mode
//! byte (bit 0: map bytes onto reply-shaped tokens to reach deep states; bits 1-3: the
//! message carries SMTPUTF8, 8BITMIME, DSN requests), 4 bytes of chunking seed, then
//! the server's byte stream, handed over a chunk at a time whenever the session asks
//! for input. Checks: no panic; the session never writes anything but whole command
//! lines; a transaction result has one reply slot per recipient and an outcome for
//! each; after Failed or Closed the session stays there and ignores input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posthorn_proto::address::{parse_forward_path, parse_reverse_path};
use posthorn_proto::client::{
    ClientAction, ClientConfig, ClientSession, OutgoingEnvelope, TransactionResult,
};
use posthorn_proto::framing::DotStuffer;
use posthorn_proto::{BodyType, MailParams, Notify, RcptParams, Ret};
use posthorn_proto_fuzz::chunk_lengths;

/// Pieces of server replies; random bytes index into this table.
const REPLY_TOKENS: &[&[u8]] = &[
    b"220 ",
    b"220-",
    b"250 ",
    b"250-",
    b"354 ",
    b"421 ",
    b"451 ",
    b"452 ",
    b"454 ",
    b"500 ",
    b"502 ",
    b"503 ",
    b"550 ",
    b"552 ",
    b"554 ",
    b"221 ",
    b"\r\n",
    b"\n",
    b"2.0.0 ",
    b"5.1.1 ",
    b"4.7.0 ",
    b"mx.example",
    b"PIPELINING",
    b"SIZE",
    b"SIZE 10",
    b"SIZE 0",
    b"8BITMIME",
    b"SMTPUTF8",
    b"DSN",
    b"STARTTLS",
    b"CHUNKING",
    b"ENHANCEDSTATUSCODES",
    b"AUTH PLAIN",
    b"AUTH=LOGIN",
    b" ",
    b"ok",
    b"\xff",
    b"9",
];

fn reply_shaped(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 4);
    for &byte in data {
        out.extend_from_slice(REPLY_TOKENS[usize::from(byte) % REPLY_TOKENS.len()]);
    }
    out
}

fn envelope(mode: u8) -> Option<OutgoingEnvelope> {
    let sender = parse_reverse_path(b"<s@example.com>", true).ok()?;
    let recipients = [&b"<a@example.org>"[..], b"<Postmaster>", b"<b@example.net>"]
        .iter()
        .map(|path| parse_forward_path(path, true).map(|to| (to, dsn_rcpt(mode))))
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    let params = MailParams {
        smtputf8: mode & 2 != 0,
        body: (mode & 4 != 0).then_some(BodyType::EightBitMime),
        ret: (mode & 8 != 0).then_some(Ret::Headers),
        envid: (mode & 8 != 0).then(|| "id =+".to_owned()),
        ..MailParams::default()
    };
    Some(OutgoingEnvelope {
        sender,
        params,
        recipients,
        size: 20,
    })
}

fn dsn_rcpt(mode: u8) -> RcptParams {
    RcptParams {
        notify: (mode & 8 != 0).then_some(Notify {
            failure: true,
            ..Notify::default()
        }),
        orcpt: None,
    }
}

fn check_result(result: &TransactionResult, recipients: usize) {
    assert_eq!(result.recipients.len(), recipients);
    for index in 0..=recipients {
        let _ = result.outcome(index);
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let mode = data[0];
    let seed = u32::from_le_bytes([data[1], data[2], data[3], data[4]]);
    let input = if mode & 1 == 1 {
        reply_shaped(&data[5..])
    } else {
        data[5..].to_vec()
    };
    let Some(envelope) = envelope(mode) else {
        return;
    };
    let mut session = ClientSession::new(ClientConfig::new("client.example"));
    let mut chunks = chunk_lengths(seed, input.len()).into_iter();
    let mut start = 0;
    let mut sent = false;
    let mut written = Vec::new();
    loop {
        written.extend_from_slice(session.output());
        session.clear_output();
        let _ = session.phase();
        match session.poll() {
            ClientAction::NeedInput => {
                let Some(length) = chunks.next() else {
                    break;
                };
                session.receive(&input[start..start + length]);
                start += length;
            }
            ClientAction::Ready(capabilities) => {
                let starttls = capabilities.starttls && mode & 16 != 0;
                if starttls {
                    session.start_tls();
                } else if sent {
                    session.quit();
                } else {
                    sent = true;
                    session.send_message(&envelope);
                }
            }
            ClientAction::TlsReady => session.tls_established(),
            ClientAction::TlsRefused(_) => {}
            ClientAction::SendBody => {
                let mut stuffer = DotStuffer::new();
                stuffer.stuff(b"body\r\n.line\r\n", &mut written);
                stuffer.finish(&mut written);
                session.body_sent();
            }
            ClientAction::Transaction(result) => check_result(&result, envelope.recipients.len()),
            ClientAction::Failed(failure) => {
                session.receive(b"250 more\r\n");
                assert_eq!(session.poll(), ClientAction::Failed(failure));
                break;
            }
            ClientAction::Closed => {
                session.receive(b"250 more\r\n");
                assert_eq!(session.poll(), ClientAction::Closed);
                break;
            }
        }
    }
    written.extend_from_slice(session.output());
    assert!(written.is_empty() || written.ends_with(b"\r\n"));
    assert!(posthorn_proto_fuzz::only_crlf(&written));
});
