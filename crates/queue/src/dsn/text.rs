//! Part 1: the explanation a person reads, in the manner of sendmail and
//! Postfix: who we are, what happened, then one paragraph per recipient.

use std::time::SystemTime;

use super::fields::{push_wrapped, rfc5322_date, sanitize};
use super::{DsnAction, DsnRecipient, Report, ReportKind};

const INDENT: &str = "    ";

pub(crate) fn explanation(report: &Report<'_, '_>) -> String {
    let request = report.request;
    let mut out = String::new();
    push_wrapped(
        &mut out,
        &format!("This is the mail system at host {}.", request.reporting_mta),
        "",
    );
    out.push_str("\r\n");
    for paragraph in introduction(report.kind, latest_retry(report.recipients)) {
        push_wrapped(&mut out, &paragraph, "");
        out.push_str("\r\n");
    }
    push_wrapped(
        &mut out,
        &format!(
            "Your message (queue id {}) arrived on {}.",
            request.original_queue_id,
            rfc5322_date(request.arrival)
        ),
        "",
    );
    out.push_str("\r\n");
    for recipient in report.recipients {
        push_wrapped(&mut out, &recipient_line(recipient), INDENT);
        out.push_str("\r\n");
    }
    out.push_str(&format!("{INDENT}{INDENT}The mail system\r\n"));
    out
}

fn introduction(kind: ReportKind, retry_until: Option<SystemTime>) -> Vec<String> {
    match kind {
        ReportKind::Failure => vec![
            "I'm sorry to report that your message could not be delivered to one or \
             more of its recipients. The reasons are listed below, and your message \
             is returned with this report."
                .to_owned(),
            "For help, write to the postmaster of this host and include this report; \
             you may leave out your own text from the returned message."
                .to_owned(),
        ],
        ReportKind::Delay => {
            let until = match retry_until {
                Some(time) => format!("until {}", rfc5322_date(time)),
                None => "for some time".to_owned(),
            };
            vec![
                "THIS IS A WARNING ONLY. YOU DO NOT NEED TO RESEND YOUR MESSAGE.".to_owned(),
                format!(
                    "Your message could not be delivered yet to the recipients below. \
                     The mail system will keep trying {until}, and will tell you if it \
                     gives up."
                ),
            ]
        }
        ReportKind::Success => vec![
            "Your message was delivered to the recipients below, as you asked to be told."
                .to_owned(),
        ],
    }
}

/// The latest `Will-Retry-Until` among delayed recipients.
fn latest_retry(recipients: &[&DsnRecipient]) -> Option<SystemTime> {
    recipients
        .iter()
        .filter(|r| r.action == DsnAction::Delayed)
        .filter_map(|r| r.will_retry_until)
        .max()
}

/// `<user@example.org>: host mx.example.org said: 550 5.1.1 no such user`.
fn recipient_line(recipient: &DsnRecipient) -> String {
    let address = sanitize(&recipient.address);
    let reason = match (&recipient.remote_mta, &recipient.diagnostic) {
        (Some(host), Some(reply)) => format!("host {host} said: {reply}"),
        (None, Some(reply)) => reply.clone(),
        (Some(host), None) => format!("host {host}: status {}", recipient.status),
        (None, None) => format!("status {}", recipient.status),
    };
    let outcome = match recipient.action {
        DsnAction::Failed => "delivery failed",
        DsnAction::Delayed => "delivery delayed",
        DsnAction::Delivered => "delivered",
        DsnAction::Relayed => "relayed to a server that sends no further reports",
    };
    format!("<{address}>: {outcome}; {reason}")
}
