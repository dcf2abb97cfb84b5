//! What one connecting client is offered and required, from the access map:
//! sendmail's `Srv_Features:` letters mapped onto the session's extensions, and the
//! `TLS_Clt:` requirement checked at `MAIL`. Both are looked up once per connection,
//! by the client's host name when known (we do no reverse DNS yet), then its IP
//! address and prefixes, then the bare tag as the default.
//!
//! Letters (lower case turns a feature on, upper case off; the last mention wins):
//! `S`/`s` STARTTLS, `V`/`v` client certificate request (default `V`, SPEC §4),
//! `A`/`a` AUTH, `P`/`p` PIPELINING, `D`/`d` DSN, `l` AUTH required before MAIL (`L`
//! does not lift a submission listener's requirement). `X`/`x` is EXPN, which Posthorn
//! never implements: `x` still gets `502`. `B`/`b`, `C`/`c` (AUTH details), `E`/`e`
//! (ETRN, not implemented) and `t` are accepted and have no effect.

use std::net::IpAddr;

use posthorn_policy::{AccessMap, SrvFeatures, Tag, TlsRequirement, Value};
use posthorn_proto::session::SessionConfig;

/// The features of one client, after its `Srv_Features:` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientFeatures {
    pub(crate) starttls: bool,
    pub(crate) request_certificate: bool,
    pub(crate) auth: bool,
    pub(crate) require_auth: bool,
    pub(crate) pipelining: bool,
    pub(crate) dsn: bool,
}

impl Default for ClientFeatures {
    /// sendmail's defaults, except that no client certificate is requested.
    fn default() -> Self {
        ClientFeatures {
            starttls: true,
            request_certificate: false,
            auth: true,
            require_auth: false,
            pipelining: true,
            dsn: true,
        }
    }
}

impl ClientFeatures {
    /// The defaults changed by the letters of `entry`.
    pub(crate) fn from_letters(entry: Option<&SrvFeatures>) -> ClientFeatures {
        let defaults = ClientFeatures::default();
        let Some(entry) = entry else {
            return defaults;
        };
        let setting = |letter, default| entry.setting(letter).unwrap_or(default);
        ClientFeatures {
            starttls: setting('s', defaults.starttls),
            request_certificate: setting('v', defaults.request_certificate),
            auth: setting('a', defaults.auth),
            require_auth: setting('l', defaults.require_auth),
            pipelining: setting('p', defaults.pipelining),
            dsn: setting('d', defaults.dsn),
        }
    }

    /// Turns off in `session` what this client is not offered; never turns on what the
    /// listener left off (STARTTLS on smtps, AUTH mechanisms that are not configured).
    pub(crate) fn apply(&self, session: &mut SessionConfig) {
        let extensions = &mut session.extensions;
        extensions.starttls &= self.starttls;
        extensions.pipelining &= self.pipelining;
        extensions.dsn &= self.dsn;
        if !self.auth {
            extensions.auth_mechanisms.clear();
        }
        session.auth_required |= self.require_auth;
    }
}

/// What the access map says about one client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ClientRules {
    pub(crate) features: ClientFeatures,
    /// `TLS_Clt:`, checked at `MAIL`.
    pub(crate) tls_requirement: Option<TlsRequirement>,
}

impl ClientRules {
    /// Looks up `Srv_Features:` and `TLS_Clt:` for the client.
    pub(crate) fn look_up(access: &AccessMap, hostname: Option<&str>, ip: IpAddr) -> ClientRules {
        let letters = match access
            .lookup_host_then_ip(Tag::SrvFeatures, hostname, ip)
            .matched
            .map(|entry| &entry.value)
        {
            Some(Value::SrvFeatures(letters)) => Some(letters),
            _ => None,
        };
        let tls_requirement = match access
            .lookup_host_then_ip(Tag::TlsClt, hostname, ip)
            .matched
            .map(|entry| &entry.value)
        {
            Some(Value::TlsRequirement(requirement)) => Some(requirement.clone()),
            _ => None,
        };
        let mut features = ClientFeatures::from_letters(letters);
        // A TLS_Clt VERIFY could never be met without asking for a certificate, so it
        // asks for one unless Srv_Features says `V` outright.
        let wants_verified = tls_requirement.as_ref().is_some_and(|r| r.verify);
        if wants_verified && letters.and_then(|l| l.setting('v')).is_none() {
            features.request_certificate = true;
        }
        ClientRules {
            features,
            tls_requirement,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use posthorn_proto::session::Extensions;

    use super::*;

    /// The session a listener offers before the client's letters: STARTTLS and AUTH on.
    fn listener_session() -> SessionConfig {
        let mut session = SessionConfig::new("mx.example");
        session.extensions.starttls = true;
        session.extensions.auth_mechanisms = vec!["PLAIN", "LOGIN"];
        session
    }

    fn features(letters: &str) -> ClientFeatures {
        let parsed = SrvFeatures::parse(letters).expect("valid letters");
        ClientFeatures::from_letters(Some(&parsed))
    }

    /// (starttls, auth offered, pipelining, dsn, auth required, certificate request).
    type Outcome = (bool, bool, bool, bool, bool, bool);

    fn outcome(letters: &str) -> Outcome {
        let features = features(letters);
        let mut session = listener_session();
        features.apply(&mut session);
        let Extensions {
            starttls,
            pipelining,
            dsn,
            auth_mechanisms,
            ..
        } = session.extensions;
        let auth = !auth_mechanisms.is_empty();
        let required = session.auth_required;
        let request = features.request_certificate;
        (starttls, auth, pipelining, dsn, required, request)
    }

    #[test]
    fn letters_map_onto_extensions() {
        let table: [(&str, Outcome); 13] = [
            ("", (true, true, true, true, false, false)),
            ("S", (false, true, true, true, false, false)),
            ("s", (true, true, true, true, false, false)),
            ("V", (true, true, true, true, false, false)),
            ("v", (true, true, true, true, false, true)),
            ("A", (true, false, true, true, false, false)),
            ("a", (true, true, true, true, false, false)),
            ("P", (true, true, false, true, false, false)),
            ("D", (true, true, true, false, false, false)),
            ("l", (true, true, true, true, true, false)),
            ("X", (true, true, true, true, false, false)),
            ("x", (true, true, true, true, false, false)),
            ("S v A P D", (false, false, false, false, false, true)),
        ];
        for (letters, expected) in table {
            assert_eq!(outcome(letters), expected, "Srv_Features: {letters:?}");
        }
    }

    #[test]
    fn the_last_mention_of_a_letter_wins() {
        assert!(!features("sS").starttls);
        assert!(features("Ss").starttls);
        assert!(!features("vV").request_certificate);
    }

    #[test]
    fn letters_never_add_what_the_listener_left_off() {
        let mut session = SessionConfig::new("mx.example");
        session.auth_required = true;
        features("s a L").apply(&mut session);
        assert!(!session.extensions.starttls, "smtps: no STARTTLS");
        assert!(session.extensions.auth_mechanisms.is_empty());
        assert!(session.auth_required, "L does not lift submission's AUTH");
    }

    #[test]
    fn no_entry_is_the_default_with_no_certificate_request() {
        let defaults = ClientFeatures::from_letters(None);
        assert_eq!(defaults, ClientFeatures::default());
        assert!(!defaults.request_certificate);
    }

    fn map(text: &str) -> AccessMap {
        AccessMap::parse(text, Path::new("access")).expect("valid map")
    }

    #[test]
    fn lookup_tries_the_address_its_prefixes_then_the_default() {
        let access = map("Srv_Features:192.0.2 S\nSrv_Features: P\nTLS_Clt:192.0.2.7 ENCR:128\n");
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let rules = ClientRules::look_up(&access, None, ip);
        assert!(!rules.features.starttls);
        assert!(rules.features.pipelining, "the prefix entry matched first");
        assert_eq!(rules.tls_requirement.unwrap().min_bits, Some(128));

        let other = ClientRules::look_up(&access, None, "198.51.100.1".parse().unwrap());
        assert!(other.features.starttls);
        assert!(!other.features.pipelining, "the bare default");
        assert_eq!(other.tls_requirement, None);
    }

    #[test]
    fn a_verify_requirement_requests_a_certificate_unless_v_says_not() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let asks = ClientRules::look_up(&map("TLS_Clt:192.0.2.7 VERIFY\n"), None, ip);
        assert!(asks.features.request_certificate);
        let text = "TLS_Clt:192.0.2.7 VERIFY\nSrv_Features:192.0.2.7 V\n";
        let told_not = ClientRules::look_up(&map(text), None, ip);
        assert!(!told_not.features.request_certificate);
        let bits_only = ClientRules::look_up(&map("TLS_Clt:192.0.2.7 ENCR:128\n"), None, ip);
        assert!(!bits_only.features.request_certificate);
    }
}
