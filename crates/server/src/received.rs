//! The `Received:` trace header (RFC 5321 §4.4) the server prepends to every message.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

/// What the trace header records about one hop.
pub(crate) struct Trace<'a> {
    pub helo: &'a str,
    pub client_name: Option<&'a str>,
    /// None for a local client, which has no address.
    pub client_ip: Option<IpAddr>,
    pub hostname: &'a str,
    pub protocol: &'a str,
    pub queue_id: &'a str,
    /// `version=TLSv1.3 cipher=... bits=256 verify=NOT`, when TLS was used.
    pub tls: Option<String>,
    /// Named only for a single recipient, as sendmail and Postfix do (privacy).
    pub single_recipient: Option<String>,
    pub time: DateTime<Utc>,
}

impl Trace<'_> {
    /// The header, folded, ending in CRLF.
    pub(crate) fn header(&self) -> String {
        let helo = sanitize(self.helo);
        let client = match client_comment(self.client_name, self.client_ip) {
            Some(client) => format!(" ({client})"),
            None => String::new(),
        };
        let mut header = format!(
            "Received: from {helo}{client}\r\n\tby {} (Posthorn) with {} id {}",
            self.hostname, self.protocol, self.queue_id
        );
        if let Some(tls) = &self.tls {
            header.push_str(&format!("\r\n\t({tls})"));
        }
        if let Some(recipient) = &self.single_recipient {
            header.push_str(&format!("\r\n\tfor <{}>", sanitize(recipient)));
        }
        header.push_str(&format!(
            ";\r\n\t{}\r\n",
            self.time.format("%a, %d %b %Y %H:%M:%S +0000")
        ));
        header
    }
}

/// `name [ip]`, `[ip]` or `name`: what we know of the client besides its HELO name.
fn client_comment(name: Option<&str>, ip: Option<IpAddr>) -> Option<String> {
    let ip = ip.map(|ip| match ip {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("IPv6:{ip}"),
    });
    match (name, ip) {
        (Some(name), Some(ip)) => Some(format!("{name} [{ip}]")),
        (None, Some(ip)) => Some(format!("[{ip}]")),
        (Some(name), None) => Some(name.to_owned()),
        (None, None) => None,
    }
}

/// Client-chosen text in a header: printable ASCII only, no parentheses that would
/// unbalance the comment, bounded length.
fn sanitize(text: &str) -> String {
    text.chars()
        .take(255)
        .map(|c| match c {
            '(' | ')' | '\\' => '_',
            c if c.is_ascii_graphic() => c,
            _ => '?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn header_has_from_by_with_id_for_and_date() {
        let trace = Trace {
            helo: "client.example",
            client_name: None,
            client_ip: Some([127, 0, 0, 1].into()),
            hostname: "mx.example.com",
            protocol: "ESMTPS",
            queue_id: "qAKNj3AB012345",
            tls: Some("version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 verify=NOT".into()),
            single_recipient: Some("bob@example.org".into()),
            time: Utc
                .with_ymd_and_hms(2026, 11, 20, 23, 19, 53)
                .single()
                .expect("valid"),
        };
        assert_eq!(
            trace.header(),
            "Received: from client.example ([127.0.0.1])\r\n\
             \tby mx.example.com (Posthorn) with ESMTPS id qAKNj3AB012345\r\n\
             \t(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 verify=NOT)\r\n\
             \tfor <bob@example.org>;\r\n\
             \tFri, 20 Nov 2026 23:19:53 +0000\r\n"
        );
    }

    /// A plain ESMTP hop without TLS; each test sets what it is about.
    fn plain_trace() -> Trace<'static> {
        Trace {
            helo: "me",
            client_name: None,
            client_ip: None,
            hostname: "mx",
            protocol: "ESMTP",
            queue_id: "id",
            tls: None,
            single_recipient: None,
            time: Utc
                .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
                .single()
                .expect("valid"),
        }
    }

    #[test]
    fn hostile_helo_cannot_break_the_header() {
        let trace = Trace {
            helo: "evil)\r\nX-Injected: yes (",
            client_ip: Some("2001:db8::1".parse().expect("ip")),
            ..plain_trace()
        };
        let header = trace.header();
        assert!(!header.contains("X-Injected: yes\r\n"), "{header}");
        assert_eq!(header.matches("\r\n").count(), 3, "{header}");
        assert!(header.contains("([IPv6:2001:db8::1])"));
    }

    #[test]
    fn a_local_client_is_named_without_an_address() {
        let trace = Trace {
            client_name: Some("localhost"),
            ..plain_trace()
        };
        assert_eq!(
            trace.header(),
            "Received: from me (localhost)\r\n\tby mx (Posthorn) with ESMTP id id;\r\n\t\
             Fri, 02 Jan 2026 03:04:05 +0000\r\n"
        );
    }

    #[test]
    fn the_client_comment_names_what_is_known() {
        let ip: IpAddr = [192, 0, 2, 1].into();
        assert_eq!(
            client_comment(Some("c.example"), Some(ip)).as_deref(),
            Some("c.example [192.0.2.1]")
        );
        assert_eq!(
            client_comment(None, Some(ip)).as_deref(),
            Some("[192.0.2.1]")
        );
        assert_eq!(
            client_comment(Some("localhost"), None).as_deref(),
            Some("localhost")
        );
        assert_eq!(client_comment(None, None), None);
    }
}
