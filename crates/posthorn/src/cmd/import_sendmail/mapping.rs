//! From sendmail's `.mc` calls to a [`Conversion`]: one handler per macro, each
//! `define` by name. Whatever has no Posthorn setting becomes a remark saying why, so
//! the administrator sees every line of the old setup accounted for.

use std::path::PathBuf;

use posthorn_config::check_host_name;
use posthorn_policy::MailerHost;

use super::conversion::{Conversion, Table, Value};
use super::daemons::Daemons;
use super::features::{self, Maps};
use super::m4::Call;

/// The map files given on the command line (`--access`, `--mailertable`).
#[derive(Debug, Clone, Default)]
pub struct MapFiles {
    pub access: Option<PathBuf>,
    pub mailertable: Option<PathBuf>,
}

/// Posthorn's own spool; sendmail's queue directory holds another format.
const SPOOL: &str = "/var/spool/posthorn";

/// Converts every call, then settles what depends on the whole file (listeners, maps).
pub fn convert(calls: &[Call], files: &MapFiles) -> Conversion {
    let mut conversion = Conversion::default();
    let mut daemons = Daemons::default();
    let mut maps = Maps::default();
    for call in calls {
        match call.name.as_str() {
            "define" => define(call, &mut conversion),
            "FEATURE" => features::feature(call, &mut maps, &mut conversion),
            "DAEMON_OPTIONS" => daemons.add(call, &mut conversion),
            "CLIENT_OPTIONS" => super::daemons::client_options(call, &mut conversion),
            _ => other_macro(call, &mut conversion),
        }
    }
    conversion.set(
        Table::Top,
        "spool",
        Value::Text(SPOOL.to_owned()),
        vec!["Posthorn's own queue: messages still in sendmail's queue (mailq) must be delivered by sendmail first".to_owned()],
    );
    daemons.finish(maps.no_default_msa, &mut conversion);
    maps.finish(files, &mut conversion);
    if conversion.get(Table::Tls, "client_certificate").is_none() {
        conversion.already(
            "no confCLIENT_CERT",
            "sendmail still answered a server's certificate request with an empty client certificate; Posthorn sends none unless `tls.client_certificate` is set, and still uses STARTTLS opportunistically",
        );
    }
    conversion
}

/// How an item is named in comments: `define(`confLOG_LEVEL', `9') at line 19`.
pub fn label(call: &Call) -> String {
    if !call.has_args {
        return format!("{} at line {}", call.name, call.line);
    }
    let args: Vec<String> = call.args.iter().map(|arg| format!("`{arg}'")).collect();
    format!("{}({}) at line {}", call.name, args.join(", "), call.line)
}

fn other_macro(call: &Call, conversion: &mut Conversion) {
    let why = match call.name.as_str() {
        // Bookkeeping for m4 itself, no effect on mail.
        "VERSIONID" | "divert" | "undefine" => return,
        _ if !call.has_args && !is_raw_section(&call.name) => return,
        name if is_raw_section(name) => "the sendmail.cf rules that follow it are sendmail's rewriting language; Posthorn has no rulesets: express what they did with the access map or mailertable",
        "OSTYPE" | "DOMAIN" | "include" => "where sendmail's own files live on this system; Posthorn needs none of them",
        "MAILER" => return mailer(call, conversion),
        "MASQUERADE_AS" | "MASQUERADE_DOMAIN" | "MASQUERADE_DOMAIN_FILE" | "MASQUERADE_EXCEPTION" | "EXPOSED_USER" => "Posthorn does not rewrite addresses; have the programs that submit mail use the address they should send from (e.g. `posthorn sendmail -f`)",
        "RELAY_DOMAIN" => return relay_domains(call, conversion),
        "LOCAL_DOMAIN" | "LOCAL_USER" => "Posthorn does no local delivery",
        _ => "no Posthorn equivalent",
    };
    conversion.not_carried(label(call), why);
}

fn is_raw_section(name: &str) -> bool {
    name.starts_with("LOCAL_RULE")
        || matches!(
            name,
            "LOCAL_CONFIG" | "LOCAL_NET_CONFIG" | "MAILER_DEFINITIONS"
        )
}

fn mailer(call: &Call, conversion: &mut Conversion) {
    match call.arg(0) {
        "smtp" | "esmtp" => conversion.already(
            label(call),
            "Posthorn delivers over SMTP and ESMTP (with STARTTLS) by itself",
        ),
        _ => conversion.not_carried(
            label(call),
            "Posthorn delivers only over SMTP: no local, procmail or other mailers",
        ),
    }
}

/// `RELAY_DOMAIN(`a.example b.example')`: recipient domains anyone may send to.
fn relay_domains(call: &Call, conversion: &mut Conversion) {
    let mut domains = match conversion.get(Table::Relay, "domains") {
        Some(Value::List(domains)) => domains.clone(),
        _ => Vec::new(),
    };
    domains.extend(call.arg(0).split_whitespace().map(str::to_owned));
    let comments = vec![format!(
        "{} (each domain also covers its subdomains)",
        label(call)
    )];
    conversion.set(Table::Relay, "domains", Value::List(domains), comments);
}

/// `define(`NAME', `value')`.
fn define(call: &Call, conversion: &mut Conversion) {
    let (name, value) = (call.arg(0), call.arg(1));
    let item = label(call);
    match name {
        "confDOMAIN_NAME" => hostname(value, item, conversion),
        "SMART_HOST" => smarthost(value, item, conversion),
        "confCACERT" => path(Table::Tls, "ca_bundle", value, item, conversion),
        "confSERVER_CERT" => path(Table::Tls, "certificate", value, item, conversion),
        "confSERVER_KEY" => path(Table::Tls, "private_key", value, item, conversion),
        "confCLIENT_CERT" => client_certificate("client_certificate", value, item, conversion),
        "confCLIENT_KEY" => client_certificate("client_private_key", value, item, conversion),
        "confCACERT_PATH" => conversion.not_carried(item, "Posthorn reads trust anchors from one PEM file, `tls.ca_bundle`: concatenate the certificates of that directory into one file and set it (or leave it unset for the system store)"),
        "confAUTH_OPTIONS" => auth_options(value, &item, conversion),
        "confPRIVACY_FLAGS" => privacy_flags(value, &item, conversion),
        "confMAX_DAEMON_CHILDREN" => count(Table::Limits, "sessions", value, item, conversion, "sendmail stopped accepting connections at this many children; Posthorn answers 421 4.7.0 to sessions beyond it"),
        "confMAX_MESSAGE_SIZE" => count(Table::Limits, "message_size", value, item, conversion, "bytes"),
        "confMAX_RCPTS_PER_MESSAGE" => count(Table::Limits, "recipients", value, item, conversion, "recipients per message"),
        "confCONNECTION_RATE_THROTTLE" => rate_throttle(value, item, conversion),
        "confTO_QUEUEWARN" => duration(Table::Queue, "warn_after", value, 'h', item, conversion),
        "confTO_QUEUERETURN" => duration(Table::Queue, "give_up_after", value, 'd', item, conversion),
        "confTO_CONNECT" => duration(Table::Outbound, "connect_timeout", value, 'm', item, conversion),
        "confTLS_FALLBACK_TO_CLEAR" => fallback_to_clear(value, item, conversion),
        "confTO_IDENT" if value.trim() == "0" || value.trim() == "0s" => conversion.already(item, "turns ident lookups off; Posthorn never makes ident (RFC 1413) lookups"),
        _ => conversion.not_carried(item, unsupported_define(name)),
    }
}

/// Why a `define` Posthorn has no use for is dropped.
fn unsupported_define(name: &str) -> &'static str {
    match name {
        "confBIND_OPTS" => "resolver options; Posthorn uses the system resolver configuration, or `dns.nameservers`",
        "confLOG_LEVEL" => "Posthorn has no log levels: it always logs each connection, TLS handshake and delivery attempt (`[log]` chooses the format and where)",
        "STATUS_FILE" => "Posthorn keeps no statistics file",
        "ALIAS_FILE" | "confAUTO_REBUILD" => "Posthorn does no local delivery, so it reads no aliases",
        "UUCP_MAILER_MAX" => "Posthorn has no UUCP mailer",
        "confUSERDB_SPEC" => "Posthorn does no local delivery and has no user database",
        "confQUEUE_LA" | "confREFUSE_LA" | "confDELAY_LA" => "Posthorn does not look at the load average; it limits concurrent sessions (`limits.sessions`) and deliveries (`queue.delivery_concurrency`)",
        "confTO_IDENT" => "Posthorn makes no ident (RFC 1413) lookups",
        "MAIL_HUB" | "LOCAL_RELAY" => "Posthorn does no local delivery, so there is no local mail to pass to a hub; route domains with the mailertable",
        "confDOUBLE_BOUNCE_ADDRESS" => "Posthorn has no setting for where a bounce that cannot be delivered goes",
        "confCW_FILE" => "list the domains Posthorn receives mail for in `relay.domains`",
        "confDONT_BLAME_SENDMAIL" => "sendmail's file-permission checks; Posthorn has no such switch",
        _ if name.starts_with("LOCAL_MAILER") || name.starts_with("PROCMAIL_MAILER") => "Posthorn does no local delivery",
        _ => "no Posthorn equivalent",
    }
}

fn hostname(value: &str, item: String, conversion: &mut Conversion) {
    match check_host_name(value) {
        Ok(()) => conversion.set(Table::Top, "hostname", Value::Text(value.to_owned()), vec![format!("{item}: the EHLO name, banner and Received: name")]),
        Err(reason) => conversion.not_carried(item, format!("not a host name Posthorn can use ({reason}); set `hostname` by hand or leave it to the system host name")),
    }
}

/// `SMART_HOST`: sendmail writes `[host]`, `host`, or `mailer:[host]`.
fn smarthost(value: &str, item: String, conversion: &mut Conversion) {
    let host = value
        .split_once(':')
        .filter(|(mailer, _)| matches!(*mailer, "smtp" | "esmtp" | "smtp8" | "dsmtp" | "relay"))
        .map_or(value, |(_, host)| host);
    match host.parse::<MailerHost>() {
        Ok(_) => conversion.set(
            Table::Outbound,
            "smarthost",
            Value::Text(host.to_owned()),
            vec![item],
        ),
        Err(error) => {
            conversion.not_carried(item, format!("not a host Posthorn can deliver to: {error}"))
        }
    }
}

fn path(table: Table, key: &'static str, value: &str, item: String, conversion: &mut Conversion) {
    if value.is_empty() {
        conversion.not_carried(item, "empty: nothing to set");
        return;
    }
    conversion.set(table, key, Value::Text(value.to_owned()), vec![item]);
}

fn client_certificate(key: &'static str, value: &str, item: String, conversion: &mut Conversion) {
    path(Table::Tls, key, value, item, conversion);
    if let Some(setting) = conversion
        .tables
        .get_mut(&Table::Tls)
        .and_then(|settings| settings.iter_mut().find(|s| s.key == key))
    {
        setting.comments.push("Posthorn sends the client certificate only when a server asks for one, and its name must match `hostname` (the EHLO name): Microsoft's servers drop connections whose client certificate names another host. `posthorn check` verifies it.".to_owned());
    }
}

/// A positive whole number; 0 means "no limit" in sendmail, which keeps Posthorn's default.
fn count(
    table: Table,
    key: &'static str,
    value: &str,
    item: String,
    conversion: &mut Conversion,
    what: &str,
) {
    match value.trim().parse::<u64>() {
        Ok(0) => conversion.not_carried(
            item,
            format!(
                "0 means no limit in sendmail; Posthorn keeps its default `{}.{key}`",
                table.header().unwrap_or("")
            ),
        ),
        Ok(number) => conversion.set(
            table,
            key,
            Value::Integer(number),
            vec![format!("{item}: {what}")],
        ),
        Err(_) => conversion.not_carried(item, "not a whole number"),
    }
}

fn rate_throttle(value: &str, item: String, conversion: &mut Conversion) {
    match value.trim().parse::<u32>() {
        Ok(per_second) if per_second > 0 => {
            let per_minute = per_second.saturating_mul(60);
            let comments = vec![item, format!("sendmail counted {per_second} connections per SECOND from all clients together and delayed the rest; Posthorn counts per client IP per MINUTE and answers 421 beyond it. {per_minute} is the nearest equivalent; lower it to limit single clients, and use `limits.sessions` for the total")];
            conversion.set(
                Table::Limits,
                "connections_per_ip_per_minute",
                Value::Integer(u64::from(per_minute)),
                comments,
            );
        }
        _ => conversion.not_carried(item, "not a positive number of connections per second"),
    }
}

fn duration(
    table: Table,
    key: &'static str,
    value: &str,
    default_unit: char,
    item: String,
    conversion: &mut Conversion,
) {
    let section = table.header().unwrap_or("");
    match sendmail_seconds(value, default_unit) {
        Some(0) => conversion.not_carried(item, format!("0 turns the timeout off (or leaves it to the system) in sendmail; Posthorn keeps its default `{section}.{key}`")),
        Some(seconds) => conversion.set(table, key, Value::Text(posthorn_duration(seconds)), vec![item]),
        None => conversion.not_carried(item, format!("`{value}` is not a sendmail time interval (a number with s, m, h, d or w)")),
    }
}

fn fallback_to_clear(value: &str, item: String, conversion: &mut Conversion) {
    if matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "t" | "yes" | "y" | ""
    ) {
        let comments = vec![format!("{item}: after a failed handshake, deliver without TLS (Posthorn's default anyway; sendmail's default was to defer)")];
        conversion.set(
            Table::Outbound,
            "tls_failure",
            Value::Text("plaintext".to_owned()),
            comments,
        );
    } else {
        let comments = vec![format!(
            "{item}: sendmail's behaviour: a failed handshake leaves the message queued"
        )];
        conversion.set(
            Table::Outbound,
            "tls_failure",
            Value::Text("defer".to_owned()),
            comments,
        );
    }
}

/// sendmail's time interval in seconds: numbers each followed by s, m, h, d or w
/// (`1h30m`), a bare number taking `default_unit`. `None` for text that is not one.
pub fn sendmail_seconds(text: &str, default_unit: char) -> Option<u64> {
    let mut seconds: u64 = 0;
    let mut chars = text.trim().chars().peekable();
    chars.peek()?;
    while chars.peek().is_some() {
        let mut number = String::new();
        while let Some(digit) = chars.next_if(char::is_ascii_digit) {
            number.push(digit);
        }
        let scale = match chars.next().unwrap_or(default_unit) {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return None,
        };
        seconds = seconds.checked_add(number.parse::<u64>().ok()?.checked_mul(scale)?)?;
    }
    Some(seconds)
}

/// Seconds as Posthorn writes a duration, in the largest whole unit (`90m` -> `90m`,
/// `7200s` -> `2h`).
pub fn posthorn_duration(seconds: u64) -> String {
    let (scale, unit) = [(86_400, "d"), (3600, "h"), (60, "m")]
        .into_iter()
        .find(|(scale, _)| seconds % scale == 0)
        .unwrap_or((1, "s"));
    format!("{}{unit}", seconds / scale)
}

fn auth_options(value: &str, item: &str, conversion: &mut Conversion) {
    for flag in value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|flag| !flag.is_empty())
    {
        let what = format!("{item}, flag `{flag}`");
        match flag {
            "p" => conversion.already(what, "AUTH only over TLS (no plaintext passwords on an unencrypted connection) is Posthorn's rule on every listener"),
            "A" => conversion.already(what, "Posthorn never sends the AUTH= parameter of MAIL: it does not authenticate to other servers"),
            "y" => conversion.already(what, "Posthorn offers no ANONYMOUS mechanism"),
            _ => conversion.not_carried(what, "no Posthorn equivalent"),
        }
    }
}

fn privacy_flags(value: &str, item: &str, conversion: &mut Conversion) {
    for flag in value
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|flag| !flag.is_empty())
    {
        let what = format!("{item}, flag `{flag}`");
        match flag {
            "novrfy" => conversion.already(what, "Posthorn's VRFY confirms nothing (252: try RCPT)"),
            "noexpn" => conversion.already(what, "Posthorn has no EXPN (502)"),
            "noetrn" => conversion.already(what, "Posthorn has no ETRN"),
            "authwarnings" => conversion.not_carried(what, "Posthorn adds no X-Authentication-Warning: headers"),
            "restrictqrun" | "restrictmailq" => conversion.not_carried(what, "Posthorn's queue commands need access to the spool; restrict it with the spool directory's permissions"),
            _ => conversion.not_carried(what, "no Posthorn equivalent"),
        }
    }
}

#[cfg(test)]
#[path = "mapping_tests.rs"]
mod tests;
