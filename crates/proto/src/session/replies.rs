//! Every reply the server session writes, in one place (codes per RFC 5321 §4.2.2 and
//! RFC 3463; texts close to sendmail's where administrators know them).

use crate::{EnhancedStatus as S, Reply};

pub(crate) fn greeting(hostname: &str) -> Reply {
    Reply::plain(220, format!("{hostname} ESMTP Posthorn ready"))
}

pub(crate) fn helo(hostname: &str, client: &str) -> Reply {
    Reply::plain(
        250,
        format!("{hostname} Hello {client}, pleased to meet you"),
    )
}

pub(crate) fn ok() -> Reply {
    Reply::new(250, S::new(2, 0, 0), "OK")
}

pub(crate) fn sender_ok(sender: &str) -> Reply {
    Reply::new(250, S::new(2, 1, 0), format!("<{sender}>... Sender ok"))
}

pub(crate) fn recipient_ok(recipient: &str) -> Reply {
    Reply::new(
        250,
        S::new(2, 1, 5),
        format!("<{recipient}>... Recipient ok"),
    )
}

pub(crate) fn start_data() -> Reply {
    Reply::plain(354, "Enter mail, end with \".\" on a line by itself")
}

pub(crate) fn accepted(queue_id: &str) -> Reply {
    Reply::new(
        250,
        S::new(2, 0, 0),
        format!("{queue_id} Message accepted for delivery"),
    )
}

pub(crate) fn discarded() -> Reply {
    Reply::new(250, S::new(2, 0, 0), "Message accepted for delivery")
}

pub(crate) fn chunk_received(size: u64) -> Reply {
    Reply::new(250, S::new(2, 0, 0), format!("{size} octets received"))
}

pub(crate) fn closing(hostname: &str) -> Reply {
    Reply::new(
        221,
        S::new(2, 0, 0),
        format!("{hostname} closing connection"),
    )
}

pub(crate) fn ready_for_tls() -> Reply {
    Reply::new(220, S::new(2, 0, 0), "Ready to start TLS")
}

pub(crate) fn help() -> Reply {
    Reply {
        code: 214,
        status: Some(S::new(2, 0, 0)),
        lines: vec![
            "Posthorn: commands are HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY STARTTLS AUTH".into(),
            "See RFC 5321".into(),
        ],
    }
}

pub(crate) fn cannot_vrfy() -> Reply {
    Reply::new(
        252,
        S::new(2, 5, 2),
        "Cannot VRFY user; try RCPT to attempt delivery",
    )
}

pub(crate) fn expn_disabled() -> Reply {
    Reply::new(502, S::new(5, 5, 1), "EXPN not available")
}

pub(crate) fn need_helo() -> Reply {
    Reply::new(503, S::new(5, 5, 1), "Polite people say HELO first")
}

pub(crate) fn sender_already_given() -> Reply {
    Reply::new(503, S::new(5, 5, 1), "Sender already specified")
}

pub(crate) fn need_mail() -> Reply {
    Reply::new(503, S::new(5, 5, 1), "Need MAIL before RCPT")
}

pub(crate) fn need_mail_before_data() -> Reply {
    Reply::new(503, S::new(5, 5, 1), "Need MAIL command")
}

pub(crate) fn need_rcpt() -> Reply {
    Reply::new(554, S::new(5, 5, 1), "No valid recipients")
}

pub(crate) fn data_during_bdat() -> Reply {
    Reply::new(503, S::new(5, 5, 1), "DATA not allowed after BDAT")
}

pub(crate) fn binarymime_needs_bdat() -> Reply {
    Reply::new(503, S::new(5, 6, 1), "BODY=BINARYMIME requires BDAT")
}

pub(crate) fn auth_required() -> Reply {
    Reply::new(530, S::new(5, 7, 0), "Authentication required")
}

pub(crate) fn auth_not_available() -> Reply {
    Reply::new(503, S::new(5, 5, 1), "Authentication not enabled")
}

pub(crate) fn tls_not_available() -> Reply {
    Reply::new(502, S::new(5, 5, 1), "STARTTLS not available")
}

pub(crate) fn tls_already_active() -> Reply {
    Reply::new(554, S::new(5, 5, 1), "TLS already active")
}

pub(crate) fn not_esmtp() -> Reply {
    Reply::new(555, S::new(5, 5, 4), "Parameters require EHLO")
}

pub(crate) fn too_many_recipients() -> Reply {
    Reply::new(452, S::new(4, 5, 3), "Too many recipients")
}

pub(crate) fn message_too_big() -> Reply {
    Reply::new(
        552,
        S::new(5, 3, 4),
        "Message size exceeds fixed maximum message size",
    )
}

pub(crate) fn line_too_long_in_data(limit: usize) -> Reply {
    Reply::new(
        550,
        S::new(5, 6, 0),
        format!("Message has a line longer than {limit} characters (RFC 5322 2.1.1)"),
    )
}

pub(crate) fn too_many_errors(hostname: &str) -> Reply {
    Reply::new(
        421,
        S::new(4, 7, 0),
        format!("{hostname} Too many errors, closing connection"),
    )
}

pub(crate) fn timeout(hostname: &str) -> Reply {
    Reply::new(
        421,
        S::new(4, 4, 2),
        format!("{hostname} Timeout waiting for input, closing connection"),
    )
}

pub(crate) fn shutting_down(hostname: &str) -> Reply {
    Reply::new(
        421,
        S::new(4, 3, 2),
        format!("{hostname} Service shutting down, closing connection"),
    )
}

pub(crate) fn line_too_long() -> Reply {
    Reply::new(500, S::new(5, 5, 2), "Line too long")
}

pub(crate) fn recipients_after_bdat() -> Reply {
    Reply::new(503, S::new(5, 5, 1), "RCPT not allowed after BDAT")
}

pub(crate) fn tls_needs_helo() -> Reply {
    Reply::new(503, S::new(5, 5, 1), "EHLO first")
}

pub(crate) fn tls_in_transaction() -> Reply {
    Reply::new(503, S::new(5, 5, 1), "MAIL transaction in progress")
}

pub(crate) fn parameter_not_offered(what: &str) -> Reply {
    Reply::new(
        555,
        S::new(5, 5, 4),
        format!("{what} parameters not supported here"),
    )
}

// AUTH (RFC 4954 §4 and §6 for the codes).

pub(crate) fn auth_challenge(challenge: &'static str) -> Reply {
    Reply::plain(334, challenge)
}

pub(crate) fn auth_succeeded() -> Reply {
    Reply::new(235, S::new(2, 7, 0), "Authentication successful")
}

pub(crate) fn auth_needs_tls() -> Reply {
    Reply::new(
        538,
        S::new(5, 7, 11),
        "Encryption required for requested authentication mechanism",
    )
}

pub(crate) fn auth_needs_ehlo() -> Reply {
    Reply::new(503, S::new(5, 5, 1), "EHLO first")
}

pub(crate) fn already_authenticated() -> Reply {
    Reply::new(503, S::new(5, 5, 1), "Already authenticated")
}

pub(crate) fn auth_in_transaction() -> Reply {
    Reply::new(
        503,
        S::new(5, 5, 1),
        "AUTH not allowed during a mail transaction",
    )
}

pub(crate) fn unknown_mechanism() -> Reply {
    Reply::new(504, S::new(5, 5, 4), "Unrecognized authentication type")
}

pub(crate) fn auth_cancelled() -> Reply {
    Reply::new(501, S::new(5, 7, 0), "Authentication cancelled")
}

pub(crate) fn auth_undecodable() -> Reply {
    Reply::new(501, S::new(5, 5, 2), "Cannot decode response")
}

pub(crate) fn auth_failed() -> Reply {
    Reply::new(535, S::new(5, 7, 8), "Authentication credentials invalid")
}

pub(crate) fn auth_temporary_failure() -> Reply {
    Reply::new(454, S::new(4, 7, 0), "Temporary authentication failure")
}

pub(crate) fn auth_throttled(hostname: &str) -> Reply {
    Reply::new(
        421,
        S::new(4, 7, 0),
        format!("{hostname} Too many failed authentications, try again later"),
    )
}

// Limits on content and pace (issue 7).

pub(crate) fn header_too_large() -> Reply {
    Reply::new(552, S::new(5, 3, 4), "Message header too large")
}

pub(crate) fn too_many_hops(count: usize, limit: usize) -> Reply {
    Reply::new(
        554,
        S::new(5, 4, 6),
        format!("Too many hops (mail loop?): {count} Received: headers, {limit} allowed"),
    )
}

pub(crate) fn data_too_slow(hostname: &str) -> Reply {
    Reply::new(
        421,
        S::new(4, 4, 2),
        format!("{hostname} Data transfer too slow, closing connection"),
    )
}

/// RFC 2920 §3.1 synchronisation broken: input before the greeting, or after DATA
/// before its reply.
pub(crate) fn out_of_sync(when: &str) -> Reply {
    Reply::new(
        554,
        S::new(5, 5, 0),
        format!("Improper use of SMTP command pipelining: input {when}"),
    )
}
