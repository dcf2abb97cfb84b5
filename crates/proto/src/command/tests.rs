//! Table-driven command tests: one table per grammar rule, each bad input with the
//! exact reply code and enhanced status it must produce.

use super::*;
use crate::address::{Domain, Mailbox};
use crate::params::{BodyType, Notify, OriginalRecipient, Ret};

/// `(line, expected)`; errors are given as `"501 5.1.7"`.
type Case<'a> = (&'a [u8], Result<Command, &'a str>);

fn check(cases: &[Case<'_>]) {
    check_in(cases, ParseContext::default());
}

fn check_in(cases: &[Case<'_>], context: ParseContext) {
    for (line, expected) in cases {
        let got = parse_command_in(line, context).map_err(|error| {
            let reply = error.reply();
            let status = reply.status.map(|s| s.to_string()).unwrap_or_default();
            format!("{} {status}", reply.code)
        });
        let expected = expected.clone().map_err(str::to_owned);
        assert_eq!(got, expected, "line {:?}", line.escape_ascii().to_string());
    }
}

fn mailbox(local: &str, domain: &str) -> Mailbox {
    Mailbox {
        local_part: local.into(),
        domain: Domain::Name(domain.into()),
    }
}

fn mail_from(local: &str, domain: &str, params: MailParams) -> Command {
    Command::Mail {
        from: ReversePath::Mailbox(mailbox(local, domain)),
        params,
    }
}

fn rcpt_to(local: &str, domain: &str) -> Command {
    Command::Rcpt {
        to: ForwardPath::Mailbox(mailbox(local, domain)),
        params: RcptParams::default(),
    }
}

#[test]
fn verbs_and_argumentless_commands() {
    check(&[
        (b"DATA", Ok(Command::Data)),
        (b"data", Ok(Command::Data)),
        (b"DATA  \t", Ok(Command::Data)),
        (b"DATA x", Err("501 5.5.4")),
        (b"RSET", Ok(Command::Rset)),
        (b"rSeT", Ok(Command::Rset)),
        (b"RSET now", Err("501 5.5.4")),
        (b"QUIT", Ok(Command::Quit)),
        (b"QUIT bye", Err("501 5.5.4")),
        (b"STARTTLS", Ok(Command::StartTls)),
        (b"starttls", Ok(Command::StartTls)),
        (b"STARTTLS x", Err("501 5.5.4")),
        (b"NOOP", Ok(Command::Noop)),
        (b"NOOP anything \xff at all", Ok(Command::Noop)),
        (b"", Err("500 5.5.1")),
        (b"   ", Err("500 5.5.1")),
        (b"FOO", Err("500 5.5.1")),
        (b"DATAX", Err("500 5.5.1")),
        (b" DATA", Err("500 5.5.1")),
        (b"DA\xffTA", Err("500 5.5.1")),
        (b"MAIL\tFROM:<a@b.example>", Err("500 5.5.1")),
        (b"GET / HTTP/1.1", Err("500 5.5.1")),
    ]);
}

#[test]
fn ehlo_and_helo_are_lenient_but_need_a_printable_name() {
    check(&[
        (
            b"EHLO mail.example",
            Ok(Command::Ehlo("mail.example".into())),
        ),
        (b"ehlo [192.0.2.1]", Ok(Command::Ehlo("[192.0.2.1]".into()))),
        (b"EHLO 192.0.2.1", Ok(Command::Ehlo("192.0.2.1".into()))),
        (
            b"EHLO under_score.example",
            Ok(Command::Ehlo("under_score.example".into())),
        ),
        (b"EHLO two words", Ok(Command::Ehlo("two words".into()))),
        (
            "EHLO bücher.example".as_bytes(),
            Ok(Command::Ehlo("bücher.example".into())),
        ),
        (
            b"HELO mail.example",
            Ok(Command::Helo("mail.example".into())),
        ),
        (b"EHLO", Err("501 5.5.4")),
        (b"EHLO   ", Err("501 5.5.4")),
        (b"HELO", Err("501 5.5.4")),
        (b"EHLO a\0b", Err("501 5.5.4")),
        (b"EHLO a\rb", Err("501 5.5.4")),
        (b"HELO a\x1bb", Err("501 5.5.4")),
        (b"EHLO \xe9t\xe9", Err("501 5.6.7")),
    ]);
}

#[test]
fn mail_from_table() {
    let plain = MailParams::default();
    check(&[
        (
            b"MAIL FROM:<a@b.example>",
            Ok(mail_from("a", "b.example", plain.clone())),
        ),
        (
            b"mail from:<a@b.example>",
            Ok(mail_from("a", "b.example", plain.clone())),
        ),
        (
            b"MAIL FROM: <a@b.example>",
            Ok(mail_from("a", "b.example", plain.clone())),
        ),
        (
            b"MAIL FROM:<>",
            Ok(Command::Mail {
                from: ReversePath::Null,
                params: plain.clone(),
            }),
        ),
        (
            b"MAIL FROM:<@r.example:a@b.example>",
            Ok(mail_from("a", "b.example", plain.clone())),
        ),
        (b"MAIL", Err("501 5.5.4")),
        (b"MAIL TO:<a@b.example>", Err("501 5.5.2")),
        (b"MAIL FROM<a@b.example>", Err("501 5.5.2")),
        (b"MAIL FROM", Err("501 5.5.2")),
        (b"MAIL FROM:", Err("501 5.1.7")),
        (b"MAIL FROM:  <a@b.example>", Err("501 5.1.7")),
        (b"MAIL FROM:a@b.example", Err("501 5.1.7")),
        (b"MAIL FROM:<a@b.example", Err("501 5.1.7")),
        (b"MAIL FROM:<a..b@b.example>", Err("501 5.1.7")),
        (b"MAIL FROM:<a@b..example>", Err("501 5.1.7")),
        (b"MAIL FROM:<a@[300.0.0.1]>", Err("501 5.1.7")),
        (b"MAIL FROM:<a\0@b.example>", Err("501 5.1.7")),
        (b"MAIL FROM:<a@b.example>junk", Err("501 5.5.4")),
    ]);
}

#[test]
fn rcpt_to_table() {
    check(&[
        (b"RCPT TO:<a@b.example>", Ok(rcpt_to("a", "b.example"))),
        (b"rcpt to: <a@b.example>", Ok(rcpt_to("a", "b.example"))),
        (
            b"RCPT TO:<Postmaster>",
            Ok(Command::Rcpt {
                to: ForwardPath::Postmaster,
                params: RcptParams::default(),
            }),
        ),
        (
            b"RCPT TO:<postmaster>",
            Ok(Command::Rcpt {
                to: ForwardPath::Postmaster,
                params: RcptParams::default(),
            }),
        ),
        (
            b"RCPT TO:<@r.example,@s.example:a@b.example>",
            Ok(rcpt_to("a", "b.example")),
        ),
        (b"RCPT", Err("501 5.5.4")),
        (b"RCPT FROM:<a@b.example>", Err("501 5.5.2")),
        (b"RCPT TO:<>", Err("501 5.1.3")),
        (b"RCPT TO:a@b.example", Err("501 5.1.3")),
        (b"RCPT TO:<a b@b.example>", Err("501 5.1.3")),
        (b"RCPT TO:<a@-b.example>", Err("501 5.1.3")),
        (b"RCPT TO:<a@b.example>junk", Err("501 5.5.4")),
    ]);
}

#[test]
fn address_length_limits_per_side() {
    let long_local = format!("<{}@b.example>", "l".repeat(65));
    let long_path = format!("<a@{}.example>", "d.".repeat(130));
    check(&[
        (
            format!("MAIL FROM:{long_local}").as_bytes(),
            Err("501 5.1.7"),
        ),
        (format!("RCPT TO:{long_local}").as_bytes(), Err("501 5.1.3")),
        (
            format!("MAIL FROM:{long_path}").as_bytes(),
            Err("501 5.1.7"),
        ),
        (format!("RCPT TO:{long_path}").as_bytes(), Err("501 5.1.3")),
    ]);
}

#[test]
fn smtputf8_addresses() {
    let utf8 = MailParams {
        smtputf8: true,
        ..MailParams::default()
    };
    check(&[
        (
            "MAIL FROM:<ü@b.example> SMTPUTF8".as_bytes(),
            Ok(mail_from("ü", "b.example", utf8.clone())),
        ),
        (
            "MAIL FROM:<a@bücher.example> smtputf8".as_bytes(),
            Ok(mail_from("a", "bücher.example", utf8)),
        ),
        ("MAIL FROM:<ü@b.example>".as_bytes(), Err("553 5.6.7")),
        ("RCPT TO:<ü@b.example>".as_bytes(), Err("553 5.6.7")),
        (b"MAIL FROM:<\xfc@b.example> SMTPUTF8", Err("501 5.6.7")),
        (b"RCPT TO:<\xfc@b.example>", Err("501 5.6.7")),
    ]);
    let in_utf8_transaction = ParseContext {
        smtputf8_transaction: true,
    };
    check_in(
        &[
            (
                "RCPT TO:<ü@b.example>".as_bytes(),
                Ok(rcpt_to("ü", "b.example")),
            ),
            (b"RCPT TO:<\xfc@b.example>", Err("501 5.6.7")),
        ],
        in_utf8_transaction,
    );
}

#[test]
fn mail_parameters() {
    let params = MailParams {
        size: Some(1000),
        body: Some(BodyType::EightBitMime),
        ret: Some(Ret::Headers),
        envid: Some("id+1".into()),
        auth: Some("<>".into()),
        smtputf8: false,
    };
    check(&[
        (
            b"MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=id+2B1 AUTH=<>",
            Ok(mail_from("a", "b.example", params)),
        ),
        (
            b"MAIL FROM:<a@b.example>  size=1000  ",
            Ok(mail_from(
                "a",
                "b.example",
                MailParams {
                    size: Some(1000),
                    ..MailParams::default()
                },
            )),
        ),
        (b"MAIL FROM:<a@b.example> FOO=BAR", Err("555 5.5.4")),
        (b"MAIL FROM:<a@b.example> NOTIFY=NEVER", Err("555 5.5.4")),
        (b"MAIL FROM:<a@b.example> SIZE=abc", Err("501 5.5.4")),
        (
            b"MAIL FROM:<a@b.example> SIZE=99999999999999999999",
            Err("501 5.5.4"),
        ),
        (b"MAIL FROM:<a@b.example> SIZE=1 SIZE=2", Err("501 5.5.4")),
        (b"MAIL FROM:<a@b.example> BODY=9BIT", Err("501 5.5.4")),
        (b"MAIL FROM:<a@b.example> RET=ALL", Err("501 5.5.4")),
        (b"MAIL FROM:<a@b.example> SMTPUTF8=1", Err("501 5.5.4")),
        (b"MAIL FROM:<a@b.example> ENVID=a+0A", Err("501 5.5.4")),
        (b"MAIL FROM:<a@b.example> AUTH=+", Err("501 5.5.4")),
        (b"MAIL FROM:<a@b.example> =x", Err("501 5.5.4")),
        (b"MAIL FROM:<a@b.example> SIZE=1\x01", Err("501 5.5.4")),
    ]);
}

#[test]
fn rcpt_parameters() {
    let params = RcptParams {
        notify: Some(Notify {
            success: true,
            failure: true,
            ..Notify::default()
        }),
        orcpt: Some(OriginalRecipient {
            addr_type: "rfc822".into(),
            address: "a@b.example".into(),
        }),
    };
    check(&[
        (
            b"RCPT TO:<a@b.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b.example",
            Ok(Command::Rcpt {
                to: ForwardPath::Mailbox(mailbox("a", "b.example")),
                params,
            }),
        ),
        (b"RCPT TO:<a@b.example> SIZE=1", Err("555 5.5.4")),
        (
            b"RCPT TO:<a@b.example> NOTIFY=NEVER,DELAY",
            Err("501 5.5.4"),
        ),
        (b"RCPT TO:<a@b.example> NOTIFY=SOMETIMES", Err("501 5.5.4")),
        (b"RCPT TO:<a@b.example> ORCPT=a@b.example", Err("501 5.5.4")),
        (b"RCPT TO:<a@b.example> ORCPT=rfc822;a+00", Err("501 5.5.4")),
        (
            b"RCPT TO:<a@b.example> NOTIFY=NEVER NOTIFY=NEVER",
            Err("501 5.5.4"),
        ),
    ]);
}

#[test]
fn bdat() {
    check(&[
        (
            b"BDAT 0",
            Ok(Command::Bdat {
                size: 0,
                last: false,
            }),
        ),
        (
            b"BDAT 1000 LAST",
            Ok(Command::Bdat {
                size: 1000,
                last: true,
            }),
        ),
        (
            b"bdat 5 last",
            Ok(Command::Bdat {
                size: 5,
                last: true,
            }),
        ),
        (
            b"BDAT 18446744073709551615",
            Ok(Command::Bdat {
                size: u64::MAX,
                last: false,
            }),
        ),
        (b"BDAT", Err("501 5.5.4")),
        (b"BDAT LAST", Err("501 5.5.4")),
        (b"BDAT -1", Err("501 5.5.4")),
        (b"BDAT 1x", Err("501 5.5.4")),
        (b"BDAT 18446744073709551616", Err("501 5.5.4")),
        (b"BDAT 1 FIRST", Err("501 5.5.4")),
        (b"BDAT 1 LAST LAST", Err("501 5.5.4")),
    ]);
}

#[test]
fn vrfy_expn_help() {
    check(&[
        (b"VRFY user", Ok(Command::Vrfy("user".into()))),
        (
            b"VRFY <user@b.example>",
            Ok(Command::Vrfy("<user@b.example>".into())),
        ),
        (b"EXPN staff", Ok(Command::Expn("staff".into()))),
        (b"VRFY", Err("501 5.5.4")),
        (b"EXPN", Err("501 5.5.4")),
        (b"VRFY a\x7fb", Err("501 5.5.4")),
        (b"EXPN \xff", Err("501 5.6.7")),
        (b"HELP", Ok(Command::Help(None))),
        (b"HELP MAIL", Ok(Command::Help(Some("MAIL".into())))),
    ]);
}

#[test]
fn auth() {
    let auth = |mechanism: &str, initial: Option<&str>| {
        Ok(Command::Auth {
            mechanism: mechanism.into(),
            initial_response: initial.map(str::to_owned),
        })
    };
    check(&[
        (b"AUTH PLAIN", auth("PLAIN", None)),
        (
            b"auth plain AGZvbwBiYXI=",
            auth("PLAIN", Some("AGZvbwBiYXI=")),
        ),
        (b"AUTH PLAIN =", auth("PLAIN", Some("="))),
        (b"AUTH SCRAM-SHA-256", auth("SCRAM-SHA-256", None)),
        (b"AUTH", Err("501 5.5.4")),
        (b"AUTH PL@IN", Err("501 5.5.4")),
        (b"AUTH ABCDEFGHIJKLMNOPQRSTU", Err("501 5.5.4")),
        (b"AUTH PLAIN not!base64", Err("501 5.5.4")),
        (b"AUTH PLAIN AAAA BBBB", Err("501 5.5.4")),
    ]);
}

#[test]
fn line_too_long_reply() {
    let reply = CommandError::LineTooLong.reply();
    assert_eq!(
        (reply.code, reply.status),
        (500, Some(status::SYNTAX_ERROR))
    );
}

#[test]
fn error_replies_are_single_clean_lines() {
    let bad_lines: [&[u8]; 5] = [
        b"FOO",
        b"MAIL FROM:<a\r\n@b>",
        b"MAIL FROM:<a@b.example> X-\r\nFOO=1",
        b"RCPT TO:<>",
        b"BDAT x",
    ];
    for line in bad_lines {
        let error = parse_command(line).expect_err("test lines are all invalid");
        let mut wire = Vec::new();
        error.reply().write_to(&mut wire);
        assert_eq!(wire.iter().filter(|&&b| b == b'\n').count(), 1, "{error:?}");
        assert!(wire.ends_with(b"\r\n"));
    }
}
