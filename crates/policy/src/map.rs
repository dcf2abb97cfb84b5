//! The access map: parsing sendmail's text form and looking keys up in sendmail's order.

use crate::line_errors::{each_line, LineError, LineErrors};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::keys::{self, KeyError};
use crate::tag::Tag;
use crate::value::{Value, ValueError};

/// One line of the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub tag: Tag,
    /// Normalised (see [`crate::keys`]); empty for the tag's default (`Try_TLS:`).
    pub key: String,
    pub value: Value,
    /// 1-based line in the file.
    pub line: usize,
}

/// The keys a lookup tried, in order, and the entry that matched, if any. The search
/// stops at the first match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup<'a> {
    tag: Tag,
    /// Normalised keys up to the match; the last unmatched one is the tag's default, "".
    keys: Vec<String>,
    pub matched: Option<&'a Entry>,
}

impl Lookup<'_> {
    /// The normalised keys in the order tried, without the tag ("" is its default).
    pub fn into_keys(self) -> Vec<String> {
        self.keys
    }

    /// The full keys in the order tried (`Try_TLS:mx1.example.com`, ..., `Try_TLS:`).
    /// Formatted on demand: policy decisions on every message only need `matched`.
    pub fn tried(&self) -> Vec<String> {
        full_keys(self.tag, &self.keys)
    }
}

/// `Tag:key` for each of `keys`, as a map file spells them.
pub(crate) fn full_keys(tag: Tag, keys: &[String]) -> Vec<String> {
    keys.iter().map(|key| format!("{tag}:{key}")).collect()
}

/// A parsed access map. `Default` is the empty map (nothing matches).
#[derive(Debug, Clone, Default)]
pub struct AccessMap {
    path: Option<PathBuf>,
    /// Per tag, so that a lookup borrows its candidate key instead of building a pair.
    entries: HashMap<Tag, HashMap<String, Entry>>,
}

/// One bad line (or an unreadable file, with no line).
pub type MapError = LineError<MapErrorKind>;

/// What is wrong with a line.
#[derive(Debug, Error)]
pub enum MapErrorKind {
    #[error("cannot read the map: {0}")]
    Read(#[source] std::io::Error),
    #[error("unknown tag `{0}:` (known: Connect, From, To, Try_TLS, TLS_Srv, TLS_Rcpt, TLS_Clt, Srv_Features, Spam, GreetPause, ClientRate, ClientConn)")]
    UnknownTag(String),
    #[error("key `{key}`: {reason}")]
    Key { key: String, reason: KeyError },
    #[error("{tag}:{key}: {reason}")]
    Value {
        tag: Tag,
        key: String,
        reason: ValueError,
    },
    #[error("duplicate key {tag}:{key}; the first is at line {first_line}")]
    Duplicate {
        tag: Tag,
        key: String,
        first_line: usize,
    },
}

/// Every bad line; `Display` lists one per line as `file:line: message`.
pub type MapErrors = LineErrors<MapErrorKind>;

impl AccessMap {
    /// Parses the text form; `path` is used in errors and kept for [`AccessMap::path`].
    /// All bad lines are reported, not only the first.
    pub fn parse(text: &str, path: &Path) -> Result<AccessMap, MapErrors> {
        let mut map = AccessMap {
            path: Some(path.to_owned()),
            entries: HashMap::new(),
        };
        each_line(text, path, |line, number| match parse_line(line, number)? {
            Some(entry) => map.insert(entry),
            None => Ok(()),
        })?;
        Ok(map)
    }

    /// Reads and parses a map file.
    pub fn load(path: &Path) -> Result<AccessMap, MapErrors> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            LineErrors(vec![MapError {
                path: path.to_owned(),
                line: None,
                kind: MapErrorKind::Read(error),
            }])
        })?;
        AccessMap::parse(&text, path)
    }

    /// The file this map came from; `None` for the empty default map.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn len(&self) -> usize {
        self.entries.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> Vec<&Entry> {
        let mut entries: Vec<&Entry> = self.entries.values().flat_map(HashMap::values).collect();
        entries.sort_by_key(|entry| entry.line);
        entries
    }

    fn insert(&mut self, entry: Entry) -> Result<(), MapErrorKind> {
        let by_key = self.entries.entry(entry.tag).or_default();
        if let Some(first) = by_key.get(&entry.key) {
            return Err(MapErrorKind::Duplicate {
                tag: entry.tag,
                key: entry.key,
                first_line: first.line,
            });
        }
        by_key.insert(entry.key.clone(), entry);
        Ok(())
    }

    /// A host name and its parent domains, then the tag's default.
    pub fn lookup_host(&self, tag: Tag, host: &str) -> Lookup<'_> {
        self.lookup_keys(tag, keys::host_keys(host))
    }

    /// An IP address and its shorter prefixes, then the tag's default.
    pub fn lookup_ip(&self, tag: Tag, ip: IpAddr) -> Lookup<'_> {
        self.lookup_keys(tag, keys::ip_keys(ip))
    }

    /// `user@domain`, the domain and its parents, `user@`, then the tag's default.
    pub fn lookup_address(&self, tag: Tag, address: &str) -> Lookup<'_> {
        self.lookup_keys(tag, keys::address_keys(address))
    }

    /// A peer known by name and address, as sendmail looks up `Connect:` and the
    /// outbound TLS tags: the host name and its parents, then the IP address and its
    /// prefixes, and only then the tag's default.
    pub fn lookup_host_then_ip(&self, tag: Tag, host: Option<&str>, ip: IpAddr) -> Lookup<'_> {
        let mut candidates = host.map(keys::host_keys).unwrap_or_default();
        candidates.extend(keys::ip_keys(ip));
        self.lookup_keys(tag, candidates)
    }

    /// Tries `candidates`, then the tag's default (""), and stops at the first match.
    fn lookup_keys(&self, tag: Tag, mut candidates: Vec<String>) -> Lookup<'_> {
        candidates.push(String::new());
        let found = self.entries.get(&tag).and_then(|by_key| {
            candidates
                .iter()
                .enumerate()
                .find_map(|(index, key)| by_key.get(key).map(|entry| (index, entry)))
        });
        if let Some((index, _)) = found {
            candidates.truncate(index + 1);
        }
        Lookup {
            tag,
            keys: candidates,
            matched: found.map(|(_, entry)| entry),
        }
    }
}

/// One line: `None` for blank lines and comments.
fn parse_line(line: &str, number: usize) -> Result<Option<Entry>, MapErrorKind> {
    let content = strip_comment(line).trim();
    if content.is_empty() {
        return Ok(None);
    }
    let (left, value_text) = content
        .split_once(char::is_whitespace)
        .map_or((content, ""), |(key, value)| (key, value.trim()));
    let (tag, raw_key) = split_tag(left)?;
    let key = keys::normalize_key(raw_key).map_err(|reason| MapErrorKind::Key {
        key: raw_key.to_owned(),
        reason,
    })?;
    let value = Value::parse(tag, value_text).map_err(|reason| MapErrorKind::Value {
        tag,
        key: raw_key.to_owned(),
        reason,
    })?;
    Ok(Some(Entry {
        tag,
        key,
        value,
        line: number,
    }))
}

/// `Tag:key` -> (tag, key). An untagged key (sendmail's old style, including
/// `IPv6:...` addresses) is a `Connect:` key, as in sendmail.
fn split_tag(left: &str) -> Result<(Tag, &str), MapErrorKind> {
    if left.starts_with('[') || keys::strip_ipv6_prefix(left).is_some() {
        return Ok((Tag::Connect, left));
    }
    match left.split_once(':') {
        Some((name, key)) => match Tag::from_name(name) {
            Some(tag) => Ok((tag, key)),
            None => Err(MapErrorKind::UnknownTag(name.to_owned())),
        },
        None => Ok((Tag::Connect, left)),
    }
}

/// Drops a `#` comment: at the start of the line, or after whitespace outside quotes
/// (so `ERROR:"550 5.7.1 see #5"` keeps its text).
fn strip_comment(line: &str) -> &str {
    let mut in_quotes = false;
    let mut previous_is_space = true;
    for (index, c) in line.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            '#' if !in_quotes && previous_is_space => return &line[..index],
            _ => {}
        }
        previous_is_space = c.is_whitespace();
    }
    line
}
