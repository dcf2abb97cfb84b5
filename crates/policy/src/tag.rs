//! The tags of sendmail's access map (`Connect:`, `Try_TLS:`, ...).

use std::fmt;

/// What an access-map key is about; the part before the first `:` of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tag {
    /// A connecting client, by host name or IP address.
    Connect,
    /// The envelope sender (`MAIL FROM`).
    From,
    /// An envelope recipient (`RCPT TO`).
    To,
    /// Whether to send STARTTLS to a server.
    TryTls,
    /// TLS requirements on a server we deliver to.
    TlsSrv,
    /// TLS requirements keyed by recipient domain.
    TlsRcpt,
    /// TLS requirements on a connecting client.
    TlsClt,
    /// SMTP features offered to a connecting client.
    SrvFeatures,
    /// sendmail's `Spam:` (FRIEND/HATER); stored, not used yet.
    Spam,
    /// sendmail's `GreetPause:`; stored, not used yet.
    GreetPause,
    /// sendmail's `ClientRate:`; stored, not used yet.
    ClientRate,
    /// sendmail's `ClientConn:`; stored, not used yet.
    ClientConn,
}

impl Tag {
    pub const ALL: [Tag; 12] = [
        Tag::Connect,
        Tag::From,
        Tag::To,
        Tag::TryTls,
        Tag::TlsSrv,
        Tag::TlsRcpt,
        Tag::TlsClt,
        Tag::SrvFeatures,
        Tag::Spam,
        Tag::GreetPause,
        Tag::ClientRate,
        Tag::ClientConn,
    ];

    /// The name as sendmail's documentation writes it, without the colon.
    pub fn name(self) -> &'static str {
        match self {
            Tag::Connect => "Connect",
            Tag::From => "From",
            Tag::To => "To",
            Tag::TryTls => "Try_TLS",
            Tag::TlsSrv => "TLS_Srv",
            Tag::TlsRcpt => "TLS_Rcpt",
            Tag::TlsClt => "TLS_Clt",
            Tag::SrvFeatures => "Srv_Features",
            Tag::Spam => "Spam",
            Tag::GreetPause => "GreetPause",
            Tag::ClientRate => "ClientRate",
            Tag::ClientConn => "ClientConn",
        }
    }

    /// Parses a tag name, ignoring case as sendmail's maps do.
    pub fn from_name(name: &str) -> Option<Tag> {
        Tag::ALL
            .into_iter()
            .find(|tag| tag.name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tag_round_trips_in_any_case() {
        for tag in Tag::ALL {
            assert_eq!(Tag::from_name(tag.name()), Some(tag));
            assert_eq!(Tag::from_name(&tag.name().to_ascii_uppercase()), Some(tag));
            assert_eq!(Tag::from_name(&tag.name().to_ascii_lowercase()), Some(tag));
        }
        assert_eq!(Tag::from_name("Try-TLS"), None);
        assert_eq!(Tag::from_name("IPv6"), None);
    }
}
