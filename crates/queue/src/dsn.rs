//! Delivery status notifications: the report a sender gets when mail to some of
//! its recipients failed, is delayed, or (when asked for) was delivered.
//!
//! The message is a `multipart/report; report-type=delivery-status` (RFC 6522)
//! of three parts: a human explanation, the `message/delivery-status` fields of
//! RFC 3464, and the returned message (`message/rfc822`) or its header
//! (`text/rfc822-headers`). Which recipients are reported follows their
//! `NOTIFY` (RFC 3461 §4.1); how much of the message goes back follows `RET`
//! (§4.3). The output has CRLF line ends only, no line over 998 octets, and a
//! boundary that occurs nowhere in its content.
//!
//! This module builds bytes; it does not decide when a DSN is due
//! ([`crate::schedule`]), queue it, or send it.

mod fields;
mod original;
mod status;
mod text;

use std::io::{self, Read};
use std::time::SystemTime;

use posthorn_proto::{EnhancedStatus, Mailbox, Notify, OriginalRecipient, Ret, ReversePath};

use fields::{choose_boundary, rfc5322_date, sanitize};
use original::Returned;

/// Largest message returned whole; beyond it only the header goes back.
pub const MAX_RETURNED_MESSAGE: usize = 10 * 1024 * 1024;

/// The `Action` of one recipient (RFC 3464 §2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DsnAction {
    /// Could not be delivered and will not be tried again.
    Failed,
    /// Not delivered yet; still being retried.
    Delayed,
    /// Delivered to the recipient's mailbox or to a DSN-capable next hop.
    Delivered,
    /// Handed to a next hop that will not send DSNs itself.
    Relayed,
}

impl DsnAction {
    /// The field value: `failed`, `delayed`, `delivered`, `relayed`.
    pub fn as_str(self) -> &'static str {
        match self {
            DsnAction::Failed => "failed",
            DsnAction::Delayed => "delayed",
            DsnAction::Delivered => "delivered",
            DsnAction::Relayed => "relayed",
        }
    }
}

/// What the report says about one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsnRecipient {
    /// The final recipient, as we tried to deliver to it.
    pub address: String,
    /// The `ORCPT` given with the recipient, if any.
    pub original: Option<OriginalRecipient>,
    pub action: DsnAction,
    pub status: EnhancedStatus,
    /// The host that gave the decisive answer, e.g. `mx1.example.org`.
    pub remote_mta: Option<String>,
    /// The remote reply, e.g. `550 5.1.1 no such user`.
    pub diagnostic: Option<String>,
    pub last_attempt: Option<SystemTime>,
    /// For `Delayed`: when we stop trying.
    pub will_retry_until: Option<SystemTime>,
}

/// Everything a DSN is built from.
#[derive(Debug, Clone)]
pub struct DsnRequest<'a> {
    /// Our host name: `Reporting-MTA`, `From: MAILER-DAEMON@...`, `Message-ID`.
    pub reporting_mta: &'a str,
    /// The envelope sender of the reported message; the DSN goes to it.
    pub original_sender: &'a ReversePath,
    /// The decoded `ENVID`, if the sender gave one.
    pub envid: Option<&'a str>,
    pub ret: Option<Ret>,
    /// When the reported message arrived.
    pub arrival: SystemTime,
    pub original_queue_id: &'a str,
    pub recipients: Vec<DsnRecipient>,
    pub now: SystemTime,
}

/// A DSN ready to be queued: sent from the null sender `<>` to `recipient`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    /// The original sender.
    pub recipient: Mailbox,
    /// The whole message, CRLF line ends.
    pub message: Vec<u8>,
    /// The message holds 8-bit octets (from the returned message or a UTF-8
    /// diagnostic) and must be sent with `BODY=8BITMIME`.
    pub eight_bit: bool,
}

/// Whether a recipient's `NOTIFY` asks for a DSN with this action (RFC 3461 §4.1).
///
/// Without `NOTIFY` the sender gets failures and, at our discretion, delays;
/// `NEVER` means nothing. `Relayed` answers a request for `SUCCESS`: it tells
/// the sender that no success report will come from further on.
pub fn wants_notification(notify: Option<Notify>, action: DsnAction) -> bool {
    let Some(notify) = notify else {
        return matches!(action, DsnAction::Failed | DsnAction::Delayed);
    };
    if notify.never {
        return false;
    }
    match action {
        DsnAction::Failed => notify.failure,
        DsnAction::Delayed => notify.delay,
        DsnAction::Delivered | DsnAction::Relayed => notify.success,
    }
}

/// Builds the DSN for the recipients of `request` for which `notify` is true.
///
/// `None` when no DSN may be sent: the sender is the null path (never a DSN
/// about a DSN), or no recipient's `NOTIFY` asks for this report. `original`
/// is the reported message (header and body as spooled); it is read only as
/// far as needed, at most [`MAX_RETURNED_MESSAGE`] + 1 bytes. I/O errors from
/// it are returned as they are.
pub fn build_dsn(
    request: &DsnRequest<'_>,
    notify: impl Fn(&DsnRecipient) -> bool,
    original: &mut dyn Read,
) -> io::Result<Option<Dsn>> {
    let ReversePath::Mailbox(sender) = request.original_sender else {
        return Ok(None);
    };
    let reported: Vec<&DsnRecipient> = request.recipients.iter().filter(|r| notify(r)).collect();
    let Some(kind) = ReportKind::of(&reported) else {
        return Ok(None);
    };
    let full_wanted = kind == ReportKind::Failure && request.ret != Some(Ret::Headers);
    let returned = original::read(original, full_wanted, MAX_RETURNED_MESSAGE)?;
    let report = Report {
        request,
        sender,
        recipients: &reported,
        kind,
    };
    Ok(Some(report.render(&returned)))
}

/// Which report this is, from the most serious action among its recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReportKind {
    Failure,
    Delay,
    Success,
}

impl ReportKind {
    fn of(recipients: &[&DsnRecipient]) -> Option<ReportKind> {
        let has = |action| recipients.iter().any(|r| r.action == action);
        if recipients.is_empty() {
            None
        } else if has(DsnAction::Failed) {
            Some(ReportKind::Failure)
        } else if has(DsnAction::Delayed) {
            Some(ReportKind::Delay)
        } else {
            Some(ReportKind::Success)
        }
    }

    fn subject(self) -> &'static str {
        match self {
            ReportKind::Failure => "Undelivered Mail Returned to Sender",
            ReportKind::Delay => "Delayed Mail (still being retried)",
            ReportKind::Success => "Successful Mail Delivery Report",
        }
    }
}

/// One DSN being written.
struct Report<'r, 'a> {
    request: &'r DsnRequest<'a>,
    sender: &'r Mailbox,
    recipients: &'r [&'r DsnRecipient],
    kind: ReportKind,
}

impl Report<'_, '_> {
    fn render(&self, returned: &Returned) -> Dsn {
        let explanation = text::explanation(self).into_bytes();
        let delivery_status = status::delivery_status(self).into_bytes();
        let parts: [&[u8]; 3] = [&explanation, &delivery_status, returned.content()];
        let boundary = choose_boundary(self.request.original_queue_id, &parts);
        let mut message = self.top_header(&boundary).into_bytes();
        let part_headers = [
            text_part_header(!explanation.is_ascii()),
            "Content-Description: Delivery report\r\n\
             Content-Type: message/delivery-status\r\n"
                .to_owned(),
            returned.part_header(self.kind),
        ];
        message.extend_from_slice(b"This is a MIME-encapsulated message.\r\n");
        for (header, content) in part_headers.iter().zip(parts) {
            if content.is_empty() {
                continue; // an empty original: nothing to return
            }
            // The CRLF before a delimiter belongs to the delimiter (RFC 2046
            // §5.1.1), so each part keeps its own final CRLF.
            message.extend_from_slice(format!("\r\n--{boundary}\r\n{header}\r\n").as_bytes());
            message.extend_from_slice(content);
        }
        message.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        Dsn {
            recipient: self.sender.clone(),
            eight_bit: !message.is_ascii(),
            message,
        }
    }

    fn top_header(&self, boundary: &str) -> String {
        let host = sanitize(self.request.reporting_mta);
        let date = rfc5322_date(self.request.now);
        format!(
            "From: Mail Delivery Subsystem <MAILER-DAEMON@{host}>\r\n\
             To: <{to}>\r\n\
             Subject: {subject}\r\n\
             Date: {date}\r\n\
             Message-ID: <{id}@{host}>\r\n\
             Auto-Submitted: auto-replied\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: multipart/report; report-type=delivery-status;\r\n\
             \tboundary=\"{boundary}\"\r\n\r\n",
            to = sanitize(&self.sender.to_string()),
            subject = self.kind.subject(),
            id = self.message_id_left(),
        )
    }

    /// The left part of our `Message-ID`: the reported message's queue id and
    /// the report's time and kind, unique as long as queue ids are.
    fn message_id_left(&self) -> String {
        let since_epoch = self
            .request
            .now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let kind = match self.kind {
            ReportKind::Failure => "failed",
            ReportKind::Delay => "delayed",
            ReportKind::Success => "success",
        };
        format!(
            "{}.{:09}.{}.{kind}",
            since_epoch.as_secs(),
            since_epoch.subsec_nanos(),
            fields::atext(self.request.original_queue_id),
        )
    }
}

fn text_part_header(eight_bit: bool) -> String {
    let encoding = if eight_bit { "8bit" } else { "7bit" };
    format!(
        "Content-Description: Notification\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: {encoding}\r\n"
    )
}

#[cfg(test)]
mod tests;
