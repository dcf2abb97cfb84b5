//! `parse_command` on raw bytes (first byte even) or on SMTP-shaped bytes (odd).
//! Checks: no panic; every error maps to a 5xx reply with a matching 5.x.x status;
//! every parsed address displays as something that parses back to itself; an AUTH
//! command's initial response, and the line after it as the response to a challenge,
//! decode without panicking into credentials free of NUL separators.
#![no_main]

use libfuzzer_sys::fuzz_target;
use posthorn_proto::address::{parse_forward_path, parse_reverse_path};
use posthorn_proto::command::{parse_command_in, Command, ParseContext};
use posthorn_proto::sasl::{Exchange, Mechanism, Progress};
use posthorn_proto::{ForwardPath, ReversePath};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let line = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        posthorn_proto_fuzz::smtp_shaped(rest)
    };
    let context = ParseContext {
        smtputf8_transaction: mode & 2 != 0,
    };
    match parse_command_in(&line, context) {
        Err(error) => {
            let reply = error.reply();
            assert!((500..=555).contains(&reply.code), "{error:?} -> {reply}");
            assert_eq!(reply.status.map(|s| s.class), Some(5), "{error:?}");
        }
        Ok(Command::Mail {
            from: ReversePath::Mailbox(mailbox),
            ..
        }) => {
            let shown = format!("<{mailbox}>");
            if shown.len() <= 256 {
                let again = parse_reverse_path(shown.as_bytes(), true);
                assert_eq!(again, Ok(ReversePath::Mailbox(mailbox)), "{shown}");
            }
        }
        Ok(Command::Rcpt {
            to: ForwardPath::Mailbox(mailbox),
            ..
        }) => {
            let shown = format!("<{mailbox}>");
            if shown.len() <= 256 {
                let again = parse_forward_path(shown.as_bytes(), true);
                assert_eq!(again, Ok(ForwardPath::Mailbox(mailbox)), "{shown}");
            }
        }
        Ok(Command::Auth {
            mechanism,
            initial_response,
        }) => {
            if let Some(mechanism) = Mechanism::from_name(&mechanism) {
                let mut progress = Exchange::start(mechanism, initial_response.as_deref());
                if let Ok(Progress::Challenge(exchange, _)) = progress {
                    progress = exchange.respond(rest);
                }
                if let Ok(Progress::Complete(credentials)) = progress {
                    let fields = [&credentials.username, &credentials.password];
                    assert!(!fields.iter().any(|field| field.contains('\0')));
                }
            }
        }
        Ok(_) => {}
    }
});
