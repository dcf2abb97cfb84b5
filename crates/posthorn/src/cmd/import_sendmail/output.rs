//! Writes a [`Conversion`] as a Posthorn TOML config: a header, top-level keys,
//! the listeners, then each table, and at the end the items that needed nothing or
//! could not be carried over. Only data decides the order, so the same `.mc` always
//! gives the same text (the e2e test compares it with a golden file).

use std::fmt::Write;

use super::conversion::{Conversion, Remark, Setting, Table, Value};

/// The config text; `source` names the `.mc` file in the header.
pub fn write(conversion: &Conversion, source: &str) -> String {
    let mut text = String::new();
    header(&mut text, source);
    if let Some(settings) = conversion.tables.get(&Table::Top) {
        settings_lines(&mut text, settings);
    }
    listeners(&mut text, conversion);
    for (table, settings) in &conversion.tables {
        if let Some(name) = table.header() {
            let _ = write!(text, "\n[{name}]\n");
            settings_lines(&mut text, settings);
        }
    }
    remarks(
        &mut text,
        "Already Posthorn's behaviour",
        "already",
        &conversion.already,
    );
    remarks(
        &mut text,
        "Not carried over",
        "not carried over",
        &conversion.not_carried,
    );
    text
}

fn header(text: &mut String, source: &str) {
    comment(
        text,
        &format!("Posthorn configuration converted from {source} by `posthorn import-sendmail`."),
    );
    comment(
        text,
        "Each setting names the sendmail item it comes from; the items that need no setting or",
    );
    comment(
        text,
        "cannot be carried over are listed at the end. Check it with `posthorn check -c FILE`.",
    );
    text.push('\n');
}

fn listeners(text: &mut String, conversion: &Conversion) {
    for listener in &conversion.listeners {
        text.push_str("\n[[listener]]\n");
        for line in &listener.comments {
            comment(text, line);
        }
        let _ = writeln!(text, "address = {}", string(&listener.address.to_string()));
        let _ = writeln!(text, "kind = {}", string(&listener.kind.to_string()));
    }
}

fn settings_lines(text: &mut String, settings: &[Setting]) {
    for setting in settings {
        for line in &setting.comments {
            comment(text, line);
        }
        let _ = writeln!(text, "{} = {}", setting.key, value(&setting.value));
    }
}

fn remarks(text: &mut String, title: &str, prefix: &str, remarks: &[Remark]) {
    if remarks.is_empty() {
        return;
    }
    text.push('\n');
    comment(text, &format!("{title}:"));
    for remark in remarks {
        comment(text, &format!("{prefix}: {}: {}", remark.item, remark.why));
    }
}

/// A `# ` line; line breaks inside the text would end the comment, so they become spaces.
fn comment(text: &mut String, line: &str) {
    let flat: String = line
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let _ = writeln!(text, "# {}", flat.trim_end());
}

fn value(value: &Value) -> String {
    match value {
        Value::Text(text) => string(text),
        Value::Integer(number) => number.to_string(),
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(|item| string(item)).collect();
            format!("[{}]", items.join(", "))
        }
    }
}

/// A TOML basic string.
fn string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(quoted, "\\u{:04X}", u32::from(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_for_toml() {
        assert_eq!(string("a\"b\\c\td"), "\"a\\\"b\\\\c\\u0009d\"");
    }

    #[test]
    fn tables_follow_top_level_keys_and_listeners_in_a_fixed_order() {
        let mut conversion = Conversion::default();
        conversion.set(Table::Limits, "sessions", Value::Integer(12), vec![]);
        conversion.set(
            Table::Top,
            "hostname",
            Value::Text("mx.example.com".into()),
            vec!["from here\nand there".into()],
        );
        conversion.set(
            Table::Tls,
            "certificate",
            Value::Text("/c.pem".into()),
            vec![],
        );
        conversion.not_carried("X at line 1", "why");
        let text = write(&conversion, "s.mc");
        let body: Vec<&str> = text.lines().skip(4).collect();
        assert_eq!(
            body,
            [
                "# from here and there",
                "hostname = \"mx.example.com\"",
                "",
                "[tls]",
                "certificate = \"/c.pem\"",
                "",
                "[limits]",
                "sessions = 12",
                "",
                "# Not carried over:",
                "# not carried over: X at line 1: why",
            ]
        );
    }
}
