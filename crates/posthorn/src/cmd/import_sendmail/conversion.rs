//! What a sendmail setup becomes: Posthorn settings with the comments that say where
//! each came from, the listeners, and the remarks about items Posthorn already does or
//! cannot take over. The mapping fills it in; `output` writes it as TOML.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use posthorn_config::ListenerKind;

/// The config tables, in the order they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Table {
    Top,
    Tls,
    Outbound,
    Relay,
    Maps,
    Queue,
    Limits,
}

impl Table {
    /// The `[name]` header; `None` for top-level keys.
    pub fn header(self) -> Option<&'static str> {
        match self {
            Table::Top => None,
            Table::Tls => Some("tls"),
            Table::Outbound => Some("outbound"),
            Table::Relay => Some("relay"),
            Table::Maps => Some("maps"),
            Table::Queue => Some("queue"),
            Table::Limits => Some("limits"),
        }
    }
}

/// A TOML value Posthorn's config takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Integer(u64),
    List(Vec<String>),
}

/// One `key = value`, with the comment lines written above it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub key: &'static str,
    pub value: Value,
    pub comments: Vec<String>,
}

/// One `[[listener]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerPlan {
    pub address: SocketAddr,
    pub kind: ListenerKind,
    pub comments: Vec<String>,
}

/// A sendmail item that needs no setting or gets none: what it was, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remark {
    pub item: String,
    pub why: String,
}

/// Everything the conversion produced, in a fixed order so the output is stable.
#[derive(Debug, Default)]
pub struct Conversion {
    pub tables: BTreeMap<Table, Vec<Setting>>,
    pub listeners: Vec<ListenerPlan>,
    /// Items whose effect is already Posthorn's behaviour.
    pub already: Vec<Remark>,
    /// Items Posthorn cannot take over.
    pub not_carried: Vec<Remark>,
    /// Problems the user must fix before the config works, also printed on stderr.
    pub warnings: Vec<String>,
}

impl Conversion {
    /// Sets `key` in `table`; a later definition replaces an earlier one, as a later
    /// `define` does in m4, and its comments replace the earlier ones.
    pub fn set(&mut self, table: Table, key: &'static str, value: Value, comments: Vec<String>) {
        let settings = self.tables.entry(table).or_default();
        let setting = Setting {
            key,
            value,
            comments,
        };
        match settings.iter_mut().find(|existing| existing.key == key) {
            Some(existing) => *existing = setting,
            None => settings.push(setting),
        }
    }

    /// The value set for `key` in `table`, if any.
    pub fn get(&self, table: Table, key: &str) -> Option<&Value> {
        self.tables
            .get(&table)?
            .iter()
            .find(|setting| setting.key == key)
            .map(|setting| &setting.value)
    }

    pub fn already(&mut self, item: impl Into<String>, why: impl Into<String>) {
        self.already.push(Remark {
            item: item.into(),
            why: why.into(),
        });
    }

    pub fn not_carried(&mut self, item: impl Into<String>, why: impl Into<String>) {
        self.not_carried.push(Remark {
            item: item.into(),
            why: why.into(),
        });
    }
}
