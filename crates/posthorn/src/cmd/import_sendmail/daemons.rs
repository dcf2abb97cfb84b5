//! `DAEMON_OPTIONS` become `[[listener]]`s and `CLIENT_OPTIONS` the outbound side.
//!
//! sendmail's port names map to Posthorn's listener kinds: `smtp`/25 is an `mta`
//! listener, `M=a` (AUTH required) a `submission` listener, `M=s` (TLS from the first
//! byte) an `smtps` listener. An empty `Addr=` is every address of the family. Two
//! daemons on the same address and port become one listener, since Posthorn cannot
//! bind it twice.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use posthorn_config::ListenerKind;

use super::conversion::{Conversion, ListenerPlan, Table, Value};
use super::m4::Call;
use super::mapping::label;

/// The listeners so far, in the order of their first `DAEMON_OPTIONS`.
#[derive(Debug, Default)]
pub struct Daemons {
    listeners: Vec<ListenerPlan>,
}

/// `Key=value` pairs of a `DAEMON_OPTIONS`/`CLIENT_OPTIONS` argument, keys lower-cased
/// (sendmail ignores their case); `M` is short for `Modifiers`.
fn options(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = key.trim().to_ascii_lowercase();
            let key = if key == "m" {
                "modifiers".to_owned()
            } else {
                key
            };
            (!key.is_empty()).then(|| (key, value.trim().to_owned()))
        })
        .collect()
}

fn port(text: &str) -> Option<u16> {
    match text {
        "" | "smtp" => Some(25),
        "submission" => Some(587),
        "smtps" => Some(465),
        number => number.parse().ok(),
    }
}

impl Daemons {
    pub fn add(&mut self, call: &Call, conversion: &mut Conversion) {
        let item = label(call);
        let options = options(call.arg(0));
        let value = |key: &str| {
            options
                .iter()
                .find(|(k, _)| k == key)
                .map_or("", |(_, v)| v.as_str())
        };
        let address = match listen_address(value("port"), value("family"), value("addr")) {
            Ok(address) => address,
            Err(why) => return conversion.not_carried(item, why),
        };
        let kind = kind(value("modifiers"), &item, conversion);
        for (key, value) in &options {
            unsupported_option(key, value, &item, conversion);
        }
        let mut comments = vec![item];
        if !value("name").is_empty() {
            comments[0].push_str(&format!(" (sendmail's {})", value("name")));
        }
        if kind == ListenerKind::Submission {
            comments.push("AUTH users: set `auth.password_file` (managed with `posthorn passwd`) or `auth.dovecot_socket`; sendmail's SASL users (saslauthd) are not read".to_owned());
        }
        if address.port() == 587 && kind == ListenerKind::Mta {
            comments.push("sendmail did not require AUTH here (no M=a); Posthorn's `submission` kind requires it (over TLS): change the kind once your clients authenticate".to_owned());
        }
        self.insert(
            ListenerPlan {
                address,
                kind,
                comments,
            },
            conversion,
        );
    }

    /// Adds a listener, or merges it into one already on its address and port.
    fn insert(&mut self, plan: ListenerPlan, conversion: &mut Conversion) {
        let Some(existing) = self.listeners.iter_mut().find(|existing| {
            covers(existing.address, plan.address) || covers(plan.address, existing.address)
        }) else {
            self.listeners.push(plan);
            return;
        };
        if existing.kind != plan.kind {
            let why = format!("it listens on {} as the `{}` listener above does, and one port cannot be two listeners: that one is kept", plan.address, existing.kind);
            conversion.not_carried(plan.comments[0].clone(), why);
            return;
        }
        if covers(plan.address, existing.address) {
            existing.address = plan.address;
        }
        let note = format!(
            "also {}: the same address and port, so one listener",
            plan.comments[0]
        );
        existing.comments.push(note);
    }

    /// The listeners; sendmail's defaults when the file has no `DAEMON_OPTIONS`.
    pub fn finish(mut self, no_default_msa: bool, conversion: &mut Conversion) {
        if self.listeners.is_empty() {
            self.listeners.push(ListenerPlan {
                address: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 25),
                kind: ListenerKind::Mta,
                comments: vec![
                    "sendmail's default daemon (no DAEMON_OPTIONS): port 25 on every IPv4 address"
                        .to_owned(),
                ],
            });
        }
        let has_587 = self
            .listeners
            .iter()
            .any(|listener| listener.address.port() == 587);
        if !no_default_msa && !has_587 {
            conversion.not_carried(
                "sendmail's default MSA on port 587 (`Port=587, Name=MSA, M=E`), there unless FEATURE(`no_default_msa')",
                "it took mail without AUTH; Posthorn's port-587 listener has `kind = \"submission\"`, which requires AUTH over TLS: add one when your clients authenticate",
            );
        }
        conversion.listeners = self.listeners;
    }
}

/// The socket address of `Port=`, `Family=` and `Addr=`; an empty `Addr=` is every
/// address of the family. `Err` says why it cannot be a Posthorn listener.
fn listen_address(port_text: &str, family: &str, address: &str) -> Result<SocketAddr, String> {
    let Some(port) = port(port_text) else {
        return Err(format!(
            "port `{port_text}` is not a number or one of smtp, submission, smtps"
        ));
    };
    let ip = match (family, address) {
        ("" | "inet", "") => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        ("inet6", "") => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        ("" | "inet" | "inet6", address) => address.parse().map_err(|_| {
            format!(
                "`Addr={address}` is not an IP address; Posthorn listens on addresses, not names"
            )
        })?,
        (family, _) => {
            return Err(format!(
                "`Family={family}`: Posthorn listens on IPv4 and IPv6 sockets only"
            ))
        }
    };
    Ok(SocketAddr::new(ip, port))
}

/// Whether a bind to `wide` already takes connections to `narrow`.
fn covers(wide: SocketAddr, narrow: SocketAddr) -> bool {
    wide.port() == narrow.port()
        && (wide.ip() == narrow.ip()
            || (wide.ip().is_unspecified() && wide.is_ipv4() == narrow.is_ipv4()))
}

/// The listener kind the modifiers ask for; the modifiers Posthorn cannot honour are remarked on.
fn kind(modifiers: &str, item: &str, conversion: &mut Conversion) -> ListenerKind {
    let mut kind = ListenerKind::Mta;
    for letter in modifiers.chars().filter(char::is_ascii_alphabetic) {
        let what = format!("{item}, modifier `{letter}`");
        match letter {
            's' => kind = ListenerKind::Smtps,
            'a' if kind != ListenerKind::Smtps => kind = ListenerKind::Submission,
            'a' => conversion.not_carried(what, "an `smtps` listener cannot also require AUTH in Posthorn; use a `submission` listener on 587 for that"),
            'E' => conversion.already(what, "Posthorn has no ETRN"),
            'b' => conversion.not_carried(what, "Posthorn does not choose the source address of its outgoing connections"),
            'S' => conversion.not_carried(what, "to offer no STARTTLS to some clients use `Srv_Features:` with `S` in the access map; STARTTLS is offered whenever a certificate is set"),
            'A' => conversion.not_carried(what, "AUTH is offered on every listener once TLS is up; there is no switch to turn it off"),
            _ => conversion.not_carried(what, "no Posthorn equivalent"),
        }
    }
    kind
}

fn unsupported_option(key: &str, value: &str, item: &str, conversion: &mut Conversion) {
    let why = match key {
        "port" | "addr" | "family" | "name" | "modifiers" => return,
        "inputmailfilters" if value.is_empty() => return,
        "inputmailfilters" => "Posthorn has no milter support",
        _ => "no Posthorn equivalent",
    };
    conversion.not_carried(format!("{item}, option `{key}={value}`"), why);
}

/// `CLIENT_OPTIONS`: `M=S` (never STARTTLS outbound, seed 001) is `starttls = "off"`.
pub fn client_options(call: &Call, conversion: &mut Conversion) {
    let item = label(call);
    for (key, value) in options(call.arg(0)) {
        let what = format!("{item}, option `{key}={value}`");
        match (key.as_str(), value.as_str()) {
            ("modifiers", modifiers) if modifiers.contains('S') => {
                let comment = format!("{item}: M=S, never send STARTTLS. Posthorn can also turn it off per destination with `Try_TLS:host NO` in the access map, which keeps TLS for everyone else");
                conversion.set(
                    Table::Outbound,
                    "starttls",
                    Value::Text("off".to_owned()),
                    vec![comment],
                );
            }
            ("addr", "") | ("name", _) | ("modifiers", "") => {}
            ("family", "inet" | "inet6") => conversion.not_carried(
                what,
                "Posthorn delivers over IPv4 and IPv6 alike, to every address of each MX",
            ),
            ("addr", _) => conversion.not_carried(
                what,
                "Posthorn does not choose the source address of its outgoing connections",
            ),
            _ => conversion.not_carried(what, "no Posthorn equivalent"),
        }
    }
}
