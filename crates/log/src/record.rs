//! One `tracing` event's fields, collected in the order they were written.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::Event;

/// A field value, keeping numbers and booleans as such so JSON can too.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Str(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

/// An event's fields: `message` and `qid` set apart, the rest in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    pub message: Option<String>,
    pub qid: Option<String>,
    pub fields: Vec<(&'static str, FieldValue)>,
}

impl Record {
    pub fn from_event(event: &Event<'_>) -> Record {
        let mut record = Record::default();
        event.record(&mut record);
        record
    }

    fn push(&mut self, field: &Field, value: FieldValue) {
        let name = field.name();
        // Fields added by the `log` crate bridge (`log.target`, ...) are not log keys.
        if name.starts_with("log.") {
            return;
        }
        match name {
            "message" => self.message = Some(value.to_string()),
            "qid" => self.qid = Some(value.to_string()),
            _ => self.fields.push((name, value)),
        }
    }
}

impl Visit for Record {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, FieldValue::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, FieldValue::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, FieldValue::U64(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, FieldValue::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, FieldValue::Str(value.to_owned()));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, FieldValue::Str(value.to_string()));
    }

    /// `%value` and `?value` arrive here; `%` already formats with `Display`.
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, FieldValue::Str(format!("{value:?}")));
    }
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Str(text) => f.write_str(text),
            FieldValue::I64(number) => number.fmt(f),
            FieldValue::U64(number) => number.fmt(f),
            FieldValue::F64(number) => number.fmt(f),
            FieldValue::Bool(flag) => flag.fmt(f),
        }
    }
}
