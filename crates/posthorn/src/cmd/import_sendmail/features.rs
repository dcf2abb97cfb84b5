//! `FEATURE(...)` and the two maps Posthorn reads: the access map and the mailertable
//! point at sendmail's TEXT sources (`/etc/mail/access`, not `access.db`), which
//! Posthorn reads directly. Map files given on the command line are parsed with
//! `posthorn-policy`, and every line it would refuse becomes a warning.

use std::path::{Path, PathBuf};

use posthorn_policy::{AccessMap, Mailertable};

use super::conversion::{Conversion, Table, Value};
use super::m4::Call;
use super::mapping::{label, MapFiles};

/// What the FEATUREs said about the maps and the default MSA.
#[derive(Debug, Default)]
pub struct Maps {
    /// The text source and the FEATURE that named it.
    access: Option<(PathBuf, String)>,
    mailertable: Option<(PathBuf, String)>,
    pub no_default_msa: bool,
}

pub fn feature(call: &Call, maps: &mut Maps, conversion: &mut Conversion) {
    let item = label(call);
    let why = match call.arg(0) {
        "access_db" => return map_source(call, "access", &mut maps.access, conversion),
        "mailertable" => return map_source(call, "mailertable", &mut maps.mailertable, conversion),
        "no_default_msa" => {
            maps.no_default_msa = true;
            return;
        }
        "virtusertable" | "genericstable" => "Posthorn does not rewrite addresses; route domains with the mailertable instead",
        "local_procmail" | "local_lmtp" | "smrsh" | "stickyhost" | "use_cw_file" | "use_ct_file" | "redirect" | "local_no_masquerade" => "Posthorn does no local delivery",
        "masquerade_envelope" | "masquerade_entire_domain" | "allmasquerade" | "always_add_domain" | "limited_masquerade" => "Posthorn does not rewrite addresses",
        "relay_hosts_only" | "relay_entire_domain" | "relay_based_on_MX" | "relay_local_from" | "relay_mail_from" | "promiscuous_relay" | "loose_relay_check" => "Posthorn relays for `relay.networks` and `relay.domains` and for `Connect:`/`To:` RELAY entries of the access map; list what this feature allowed there",
        "dnsbl" | "enhdnsbl" => "Posthorn has no DNS blocklist checks",
        "delay_checks" => "Posthorn applies the access map at each SMTP stage; there is nothing to delay",
        "nouucp" | "nocanonical" => "Posthorn has neither UUCP nor address canonicalisation",
        _ => "no Posthorn equivalent",
    };
    conversion.not_carried(item, why);
}

/// The text file behind a FEATURE's map argument, e.g. `hash -o /etc/mail/access.db`
/// -> `/etc/mail/access`; sendmail's default when the argument names no file.
fn map_source(
    call: &Call,
    name: &str,
    slot: &mut Option<(PathBuf, String)>,
    conversion: &mut Conversion,
) {
    let spec = call.arg(1);
    let mut words = spec.split_whitespace();
    let class = words.next().unwrap_or("hash");
    if !matches!(class, "hash" | "btree" | "dbm" | "text") {
        conversion.not_carried(
            label(call),
            format!("a `{class}` map: Posthorn reads only the text form of a map file"),
        );
        return;
    }
    let file = spec.split_whitespace().rfind(|word| word.starts_with('/'));
    let path = match file {
        Some(file) => strip_database_suffix(file),
        None => format!("/etc/mail/{name}"),
    };
    *slot = Some((PathBuf::from(path), label(call)));
}

fn strip_database_suffix(file: &str) -> String {
    [".db", ".dir", ".pag"]
        .iter()
        .find_map(|suffix| file.strip_suffix(suffix))
        .unwrap_or(file)
        .to_owned()
}

impl Maps {
    /// Writes `[maps]`: a file from the command line wins over the FEATURE's, and is
    /// checked the way Posthorn will load it.
    pub fn finish(self, files: &MapFiles, conversion: &mut Conversion) {
        let access = choose(self.access, files.access.as_deref(), "--access");
        let mailertable = choose(
            self.mailertable,
            files.mailertable.as_deref(),
            "--mailertable",
        );
        if let Some((path, origin, given)) = access {
            let problems = if given {
                access_problems(&path)
            } else {
                Vec::new()
            };
            set_map(conversion, "access", &path, origin, problems);
        }
        if let Some((path, origin, given)) = mailertable {
            let problems = if given {
                mailertable_problems(&path)
            } else {
                Vec::new()
            };
            set_map(conversion, "mailertable", &path, origin, problems);
        }
    }
}

/// The map to use: (path, where it came from, whether it was given and so is checked).
fn choose(
    from_feature: Option<(PathBuf, String)>,
    given: Option<&Path>,
    flag: &str,
) -> Option<(PathBuf, String, bool)> {
    match (given, from_feature) {
        (Some(path), Some((_, origin))) => Some((
            absolute(path),
            format!("{origin}; the file given with {flag}"),
            true,
        )),
        (Some(path), None) => Some((absolute(path), format!("the file given with {flag}"), true)),
        (None, Some((path, origin))) => Some((path, origin, false)),
        (None, None) => None,
    }
}

/// Relative paths would depend on the directory Posthorn is started from.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Every line Posthorn would refuse, as `file:line: reason`.
fn access_problems(path: &Path) -> Vec<String> {
    match AccessMap::load(path) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

fn mailertable_problems(path: &Path) -> Vec<String> {
    match Mailertable::load(path) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

fn set_map(
    conversion: &mut Conversion,
    key: &'static str,
    path: &Path,
    origin: String,
    problems: Vec<String>,
) {
    let mut comments = vec![
        origin,
        "the text source, read directly and reloaded on SIGHUP: no makemap, no .db".to_owned(),
    ];
    if !problems.is_empty() {
        comments.push(format!("WARNING: Posthorn refuses {} line(s) of this map; fix them before starting Posthorn (`posthorn check` lists them too):", problems.len()));
        comments.extend(problems.iter().map(|problem| format!("  {problem}")));
        conversion.warnings.extend(problems);
    }
    conversion.set(
        Table::Maps,
        key,
        Value::Text(path.display().to_string()),
        comments,
    );
}
