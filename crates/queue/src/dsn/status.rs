//! Part 2: the `message/delivery-status` fields of RFC 3464 §2.
//!
//! One block of per-message fields, then one block per recipient, separated
//! by blank lines. Addresses and the envelope id are written decoded, as
//! sendmail and Postfix do, unless they hold characters a plain header field
//! cannot carry; those are written in xtext (RFC 3461 §4), which RFC 3464
//! §2.1.2 allows for exactly that. Other values are plain `text` (US-ASCII):
//! any other character in them, e.g. in a UTF-8 reply, becomes `?` here (the
//! explanation in part 1 keeps it).

use posthorn_proto::xtext;

use super::fields::{push_field as push_any_field, rfc5322_date};
use super::{DsnAction, DsnRecipient, Report};

pub(crate) fn delivery_status(report: &Report<'_, '_>) -> String {
    let request = report.request;
    let mut out = String::new();
    push_field(
        &mut out,
        "Reporting-MTA",
        &format!("dns; {}", request.reporting_mta),
    );
    push_field(&mut out, "X-Posthorn-Queue-ID", request.original_queue_id);
    push_field(
        &mut out,
        "X-Posthorn-Sender",
        &format!("rfc822; {}", plain_or_xtext(&report.sender.to_string())),
    );
    if let Some(envid) = request.envid {
        push_field(&mut out, "Original-Envelope-Id", &plain_or_xtext(envid));
    }
    push_field(&mut out, "Arrival-Date", &rfc5322_date(request.arrival));
    for recipient in report.recipients {
        out.push_str("\r\n");
        push_recipient(&mut out, recipient);
    }
    out
}

fn push_recipient(out: &mut String, recipient: &DsnRecipient) {
    if let Some(original) = &recipient.original {
        let value = format!(
            "{}; {}",
            original.addr_type,
            plain_or_xtext(&original.address)
        );
        push_field(out, "Original-Recipient", &value);
    }
    let final_recipient = format!("rfc822; {}", plain_or_xtext(&recipient.address));
    push_field(out, "Final-Recipient", &final_recipient);
    push_field(out, "Action", recipient.action.as_str());
    push_field(out, "Status", &recipient.status.to_string());
    if let Some(host) = &recipient.remote_mta {
        push_field(out, "Remote-MTA", &format!("dns; {host}"));
    }
    if let Some(diagnostic) = &recipient.diagnostic {
        push_field(out, "Diagnostic-Code", &diagnostic_code(diagnostic));
    }
    if let Some(time) = recipient.last_attempt {
        push_field(out, "Last-Attempt-Date", &rfc5322_date(time));
    }
    if let (DsnAction::Delayed, Some(until)) = (recipient.action, recipient.will_retry_until) {
        push_field(out, "Will-Retry-Until", &rfc5322_date(until));
    }
}

/// Appends a field whose value is US-ASCII: other characters become `?`.
fn push_field(out: &mut String, name: &str, value: &str) {
    let ascii: String = value
        .chars()
        .map(|c| if c.is_ascii() { c } else { '?' })
        .collect();
    push_any_field(out, name, &ascii);
}

/// `smtp; 550 5.1.1 ...` for a server's reply; our own reasons (a refused
/// connection, a DNS failure) are not SMTP replies and get our own type, as
/// Postfix does with `X-Postfix;`.
fn diagnostic_code(diagnostic: &str) -> String {
    let is_reply = diagnostic.len() >= 3
        && diagnostic.as_bytes()[..3].iter().all(u8::is_ascii_digit)
        && diagnostic
            .as_bytes()
            .get(3)
            .is_none_or(|&b| b == b' ' || b == b'-');
    let kind = if is_reply { "smtp" } else { "X-Posthorn" };
    format!("{kind}; {diagnostic}")
}

/// `text` as is when it is printable ASCII without spaces, else its xtext form.
fn plain_or_xtext(text: &str) -> String {
    if text.bytes().all(|byte| byte.is_ascii_graphic()) {
        text.to_owned()
    } else {
        xtext::encode(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_smtp_diagnostics_and_local_reasons_are_ours() {
        let cases = [
            ("550 5.1.1 no such user", "smtp; 550 5.1.1 no such user"),
            ("421-busy", "smtp; 421-busy"),
            ("451", "smtp; 451"),
            (
                "connect to mx: refused",
                "X-Posthorn; connect to mx: refused",
            ),
            ("4511 odd", "X-Posthorn; 4511 odd"),
            ("", "X-Posthorn; "),
        ];
        let actual: Vec<(&str, String)> = cases
            .iter()
            .map(|(input, _)| (*input, diagnostic_code(input)))
            .collect();
        let expected: Vec<(&str, String)> =
            cases.iter().map(|(i, e)| (*i, (*e).to_owned())).collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn only_values_a_field_cannot_carry_are_xtext_encoded() {
        let cases = [
            ("user+tag@example.org", "user+tag@example.org"),
            ("env-42", "env-42"),
            ("\"a b\"@example.org", "\"a+20b\"@example.org"),
            ("jörg@example.org", "j+C3+B6rg@example.org"),
        ];
        let actual: Vec<(&str, String)> = cases
            .iter()
            .map(|(input, _)| (*input, plain_or_xtext(input)))
            .collect();
        let expected: Vec<(&str, String)> =
            cases.iter().map(|(i, e)| (*i, (*e).to_owned())).collect();
        assert_eq!(actual, expected);
    }
}
