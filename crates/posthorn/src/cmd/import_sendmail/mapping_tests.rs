//! One test per mapping: `.mc` text in, the settings and remarks it produces out.

use std::net::SocketAddr;

use posthorn_config::ListenerKind;

use super::*;
use crate::cmd::import_sendmail::m4;

fn convert_mc(text: &str) -> Conversion {
    convert(&m4::read(text).unwrap(), &MapFiles::default())
}

fn text(conversion: &Conversion, table: Table, key: &str) -> Option<String> {
    match conversion.get(table, key) {
        Some(Value::Text(text)) => Some(text.clone()),
        Some(Value::Integer(number)) => Some(number.to_string()),
        Some(Value::List(items)) => Some(items.join(" ")),
        None => None,
    }
}

/// The remarks about the file's own items (the two about what it lacks, sendmail's
/// default MSA and client certificate, have their own tests).
fn not_carried(conversion: &Conversion) -> Vec<&str> {
    conversion
        .not_carried
        .iter()
        .map(|remark| remark.item.as_str())
        .filter(|item| !item.starts_with(DEFAULT_MSA))
        .collect()
}

fn already(conversion: &Conversion) -> Vec<&str> {
    conversion
        .already
        .iter()
        .map(|remark| remark.item.as_str())
        .filter(|item| *item != NO_CLIENT_CERT)
        .collect()
}

const DEFAULT_MSA: &str = "sendmail's default MSA on port 587";
const NO_CLIENT_CERT: &str = "no confCLIENT_CERT";

fn listeners(conversion: &Conversion) -> Vec<(SocketAddr, ListenerKind)> {
    conversion
        .listeners
        .iter()
        .map(|l| (l.address, l.kind))
        .collect()
}

#[test]
fn domain_name_is_the_hostname_and_a_macro_is_not() {
    let conversion = convert_mc("define(`confDOMAIN_NAME', `mx1.example.com')dnl\n");
    assert_eq!(
        text(&conversion, Table::Top, "hostname").as_deref(),
        Some("mx1.example.com")
    );
    let conversion = convert_mc("define(`confDOMAIN_NAME', `$w.$m')dnl\n");
    assert_eq!(text(&conversion, Table::Top, "hostname"), None);
    assert_eq!(
        not_carried(&conversion),
        ["define(`confDOMAIN_NAME', `$w.$m') at line 1"]
    );
}

#[test]
fn certificates_map_to_tls_and_the_client_pair_gets_the_warning() {
    let conversion = convert_mc(
        "define(`confCACERT', `/etc/pki/ca.crt')\n\
         define(`confSERVER_CERT', `/etc/pki/server.pem')\n\
         define(`confSERVER_KEY', `/etc/pki/server.key')\n\
         define(`confCLIENT_CERT', `/etc/pki/client.pem')\n\
         define(`confCLIENT_KEY', `/etc/pki/client.key')\n\
         define(`confCACERT_PATH', `/etc/pki/certs')\n",
    );
    let expected = [
        ("ca_bundle", "/etc/pki/ca.crt"),
        ("certificate", "/etc/pki/server.pem"),
        ("private_key", "/etc/pki/server.key"),
        ("client_certificate", "/etc/pki/client.pem"),
        ("client_private_key", "/etc/pki/client.key"),
    ];
    for (key, path) in expected {
        assert_eq!(
            text(&conversion, Table::Tls, key).as_deref(),
            Some(path),
            "{key}"
        );
    }
    let client = &conversion.tables[&Table::Tls][3];
    assert!(client
        .comments
        .iter()
        .any(|c| c.contains("only when a server asks") && c.contains("`hostname`")));
    assert_eq!(
        not_carried(&conversion),
        ["define(`confCACERT_PATH', `/etc/pki/certs') at line 6"]
    );
}

#[test]
fn auth_and_privacy_flags_that_are_posthorn_defaults_say_so() {
    let conversion = convert_mc(
        "define(`confAUTH_OPTIONS', `A p')\n\
         define(`confPRIVACY_FLAGS', `authwarnings,novrfy,noexpn')\n",
    );
    let items = already(&conversion);
    assert_eq!(items.len(), 4, "{items:?}");
    assert!(items[1].ends_with("flag `p`"));
    assert!(conversion.already[1].why.contains("AUTH only over TLS"));
    assert!(items[2].ends_with("flag `novrfy`") && items[3].ends_with("flag `noexpn`"));
    assert_eq!(not_carried(&conversion).len(), 1);
    assert!(not_carried(&conversion)[0].ends_with("flag `authwarnings`"));
}

#[test]
fn limits_and_the_rate_throttle_with_its_difference_explained() {
    let conversion = convert_mc(
        "define(`confMAX_DAEMON_CHILDREN', 12)dnl\n\
         define(`confCONNECTION_RATE_THROTTLE', 3)dnl\n\
         define(`confMAX_MESSAGE_SIZE', `10000000')dnl\n",
    );
    assert_eq!(
        text(&conversion, Table::Limits, "sessions").as_deref(),
        Some("12")
    );
    assert_eq!(
        text(&conversion, Table::Limits, "message_size").as_deref(),
        Some("10000000")
    );
    assert_eq!(
        text(&conversion, Table::Limits, "connections_per_ip_per_minute").as_deref(),
        Some("180")
    );
    let throttle = &conversion.tables[&Table::Limits][1];
    assert!(
        throttle.comments[1].contains("per SECOND")
            && throttle.comments[1].contains("per client IP per MINUTE")
    );
}

#[test]
fn zero_limits_keep_posthorn_defaults() {
    let conversion = convert_mc("define(`confMAX_DAEMON_CHILDREN', 0)\n");
    assert_eq!(text(&conversion, Table::Limits, "sessions"), None);
    assert_eq!(not_carried(&conversion).len(), 1);
}

#[test]
fn timeouts_use_sendmail_default_units() {
    let conversion = convert_mc(
        "define(`confTO_QUEUEWARN', `4')\n\
         define(`confTO_QUEUERETURN', `5')\n\
         define(`confTO_CONNECT', `1m')\n",
    );
    assert_eq!(
        text(&conversion, Table::Queue, "warn_after").as_deref(),
        Some("4h")
    );
    assert_eq!(
        text(&conversion, Table::Queue, "give_up_after").as_deref(),
        Some("5d")
    );
    assert_eq!(
        text(&conversion, Table::Outbound, "connect_timeout").as_deref(),
        Some("1m")
    );
}

#[test]
fn sendmail_intervals_convert_to_the_largest_whole_unit() {
    assert_eq!(sendmail_seconds("1h30m", 'm'), Some(5400));
    assert_eq!(sendmail_seconds("2w", 'd'), Some(14 * 86_400));
    assert_eq!(sendmail_seconds("90", 's'), Some(90));
    assert_eq!(sendmail_seconds("5x", 'm'), None);
    assert_eq!(sendmail_seconds("", 'm'), None);
    assert_eq!(posthorn_duration(5400), "90m");
    assert_eq!(posthorn_duration(7200), "2h");
    assert_eq!(posthorn_duration(14 * 86_400), "14d");
    assert_eq!(posthorn_duration(61), "61s");
}

#[test]
fn fallback_to_clear_is_plaintext() {
    let conversion = convert_mc("define(`confTLS_FALLBACK_TO_CLEAR', `true')\n");
    assert_eq!(
        text(&conversion, Table::Outbound, "tls_failure").as_deref(),
        Some("plaintext")
    );
    assert!(conversion.tables[&Table::Outbound][0].comments[0].contains("default anyway"));
}

#[test]
fn client_options_m_s_turns_starttls_off() {
    let conversion = convert_mc("CLIENT_OPTIONS(`Family=inet, M=S, Addr=1.2.3.4')dnl\n");
    assert_eq!(
        text(&conversion, Table::Outbound, "starttls").as_deref(),
        Some("off")
    );
    let items = not_carried(&conversion);
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(
        items[0].ends_with("option `family=inet`") && items[1].ends_with("option `addr=1.2.3.4`")
    );
}

#[test]
fn maps_point_at_the_text_sources() {
    let conversion = convert_mc(
        "FEATURE(`access_db',`hash -T<TMPF> -o /etc/mail/access.db')dnl\n\
         FEATURE(`mailertable',`hash -o /etc/mail/mailertable.db')dnl\n",
    );
    assert_eq!(
        text(&conversion, Table::Maps, "access").as_deref(),
        Some("/etc/mail/access")
    );
    assert_eq!(
        text(&conversion, Table::Maps, "mailertable").as_deref(),
        Some("/etc/mail/mailertable")
    );
    let conversion = convert_mc("FEATURE(`access_db')\nFEATURE(`mailertable', `ldap -1 -v x')\n");
    assert_eq!(
        text(&conversion, Table::Maps, "access").as_deref(),
        Some("/etc/mail/access")
    );
    assert_eq!(text(&conversion, Table::Maps, "mailertable"), None);
    assert_eq!(not_carried(&conversion).len(), 1);
}

#[test]
fn map_files_given_are_checked_and_their_bad_lines_become_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let access = dir.path().join("access");
    std::fs::write(
        &access,
        "Try_TLS:ok.example NO\nTry_TLS:bad.example MAYBE\n",
    )
    .unwrap();
    let files = MapFiles {
        access: Some(access.clone()),
        mailertable: None,
    };
    let calls = m4::read("FEATURE(`access_db', `hash /etc/mail/access.db')\n").unwrap();
    let conversion = convert(&calls, &files);
    assert_eq!(
        text(&conversion, Table::Maps, "access").as_deref(),
        Some(access.to_str().unwrap())
    );
    assert_eq!(conversion.warnings.len(), 1);
    assert!(conversion.warnings[0].starts_with(&format!("{}:2: ", access.display())));
}

#[test]
fn daemon_options_become_listeners_by_kind() {
    let conversion = convert_mc(
        "DAEMON_OPTIONS(`Port=smtp,Addr=, Name=MTA')dnl\n\
         DAEMON_OPTIONS(`Port=submission, Name=MSA, M=Ea')dnl\n\
         DAEMON_OPTIONS(`Port=smtps, Name=TLSMTA, M=s')dnl\n\
         DAEMON_OPTIONS(`port=smtp,Addr=::1, Name=MTA-v6, Family=inet6')dnl\n",
    );
    let expected = [
        ("0.0.0.0:25", ListenerKind::Mta),
        ("0.0.0.0:587", ListenerKind::Submission),
        ("0.0.0.0:465", ListenerKind::Smtps),
        ("[::1]:25", ListenerKind::Mta),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(a, k)| (a.parse().unwrap(), *k))
        .collect();
    assert_eq!(listeners(&conversion), expected);
    assert_eq!(
        already(&conversion),
        ["DAEMON_OPTIONS(`Port=submission, Name=MSA, M=Ea') at line 2, modifier `E`"]
    );
    assert!(conversion.not_carried.is_empty(), "587 is configured");
    assert_eq!(conversion.already.last().unwrap().item, NO_CLIENT_CERT);
}

#[test]
fn two_daemons_on_one_address_and_port_are_one_listener() {
    let conversion = convert_mc(
        "DAEMON_OPTIONS(`Port=smtp,Addr=, Name=MTA, InputMailFilters=')dnl\n\
         DAEMON_OPTIONS(`Port=smtp, Addr=,Name=MTA,Modifiers=b,InputMailFilters=')dnl\n\
         DAEMON_OPTIONS(`Port=25, Addr=127.0.0.1')dnl\n",
    );
    assert_eq!(
        listeners(&conversion),
        [("0.0.0.0:25".parse().unwrap(), ListenerKind::Mta)]
    );
    let comments = &conversion.listeners[0].comments;
    assert_eq!(comments.len(), 3, "{comments:?}");
    assert!(comments[1].starts_with("also DAEMON_OPTIONS") && comments[1].contains("line 2"));
    assert!(comments[2].contains("line 3"));
    assert_eq!(not_carried(&conversion), ["DAEMON_OPTIONS(`Port=smtp, Addr=,Name=MTA,Modifiers=b,InputMailFilters=') at line 2, modifier `b`"]);
}

#[test]
fn sendmails_default_msa_is_mentioned_unless_turned_off() {
    let conversion = convert_mc("DAEMON_OPTIONS(`Port=smtp')\n");
    let items: Vec<&str> = conversion
        .not_carried
        .iter()
        .map(|r| r.item.as_str())
        .collect();
    assert_eq!(items.len(), 1);
    assert!(items[0].starts_with(DEFAULT_MSA));
    assert!(conversion.not_carried[0].why.contains("requires AUTH"));
}

#[test]
fn a_configured_client_certificate_replaces_the_empty_one_remark() {
    let conversion = convert_mc("define(`confCLIENT_CERT', `/c.pem')\n");
    assert!(conversion.already.iter().all(|r| r.item != NO_CLIENT_CERT));
    let conversion = convert_mc("");
    assert_eq!(already(&conversion), Vec::<&str>::new());
    assert_eq!(conversion.already.len(), 1);
    assert!(conversion.already[0]
        .why
        .contains("empty client certificate"));
}

#[test]
fn no_daemon_options_is_sendmails_default_daemon() {
    let conversion = convert_mc("FEATURE(`no_default_msa')\n");
    assert_eq!(
        listeners(&conversion),
        [("0.0.0.0:25".parse().unwrap(), ListenerKind::Mta)]
    );
    assert!(conversion.not_carried.is_empty());
}

#[test]
fn items_without_an_equivalent_are_listed_with_a_reason() {
    let conversion = convert_mc(
        "define(`confBIND_OPTS',`-DNSRCH -DEFNAMES')dnl\n\
         FEATURE(local_procmail,`',`procmail -t -Y -a $h -d $u')dnl\n\
         FEATURE(`virtusertable',`hash -o /etc/mail/virtusertable.db')dnl\n\
         MASQUERADE_AS(`mydomain.com')dnl\n\
         MAILER(`local')dnl\n\
         LOCAL_CONFIG\n\
         VERSIONID(`setup')dnl\n",
    );
    let items = not_carried(&conversion);
    assert_eq!(items.len(), 6, "{items:?}");
    assert!(items[1].starts_with("FEATURE(`local_procmail', `', `procmail"));
    assert!(conversion
        .not_carried
        .iter()
        .all(|remark| !remark.why.is_empty()));
    assert_eq!(
        conversion.not_carried[0].why,
        unsupported_define("confBIND_OPTS")
    );
}

#[test]
fn relay_domains_and_the_smarthost_carry_over() {
    let conversion = convert_mc(
        "RELAY_DOMAIN(`a.example b.example')\ndefine(`SMART_HOST', `esmtp:[relay.example.com]')\n",
    );
    assert_eq!(
        text(&conversion, Table::Relay, "domains").as_deref(),
        Some("a.example b.example")
    );
    assert_eq!(
        text(&conversion, Table::Outbound, "smarthost").as_deref(),
        Some("[relay.example.com]")
    );
}
