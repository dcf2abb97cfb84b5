//! The config text as read, so that a finding about a key can name the line that set it.
//!
//! This is a line scan, not a TOML parser: the config already parsed, so it only has
//! to find `key = ...` under `[table]` (or `table.key = ...` at the top). When it
//! cannot, the finding names the file alone.

use super::finding::Location;

/// A config file's name (`<embedded>` for the built-in default) and text.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    pub file: String,
    text: String,
}

impl ConfigSource {
    pub fn new(file: impl Into<String>, text: impl Into<String>) -> ConfigSource {
        ConfigSource {
            file: file.into(),
            text: text.into(),
        }
    }

    /// Where `table.key` is set (e.g. `("tls", "client_certificate")`).
    pub fn key(&self, table: &str, key: &str) -> Location {
        Location {
            file: self.file.clone(),
            line: self.key_line(table, key),
        }
    }

    /// The first line under an `[[array]]` or `[table]` named `table` that mentions
    /// `needle` (a listener by its address).
    pub fn line_mentioning(&self, table: &str, needle: &str) -> Location {
        let line = self.lines_in(table).find_map(|(number, line)| {
            let value = line.split_once('=').map_or("", |(_, value)| value);
            value.contains(needle).then_some(number)
        });
        Location {
            file: self.file.clone(),
            line,
        }
    }

    fn key_line(&self, table: &str, key: &str) -> Option<usize> {
        let dotted = format!("{table}.{key}");
        let in_table = self
            .lines_in(table)
            .find(|(_, line)| assigns(line, key))
            .map(|(number, _)| number);
        in_table.or_else(|| {
            self.lines_in("")
                .find(|(_, line)| assigns(line, &dotted))
                .map(|(number, _)| number)
        })
    }

    /// 1-based numbers and trimmed text of the lines inside `table` (`""`: top level).
    fn lines_in<'a>(&'a self, table: &'a str) -> impl Iterator<Item = (usize, &'a str)> + 'a {
        let mut current = String::new();
        self.text
            .lines()
            .enumerate()
            .filter_map(move |(index, line)| {
                let line = line.trim();
                if let Some(header) = table_header(line) {
                    current = header.to_owned();
                    return None;
                }
                (current == table).then_some((index + 1, line))
            })
    }
}

/// `tls` for `[tls]`, `listener` for `[[listener]]`, with comments and spaces around.
fn table_header(line: &str) -> Option<&str> {
    let line = line.split('#').next().unwrap_or("").trim();
    let inner = line.strip_prefix('[')?.strip_suffix(']')?;
    let inner = inner
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(inner);
    Some(inner.trim())
}

/// Whether `line` is `key = ...` (also with the key quoted).
fn assigns(line: &str, key: &str) -> bool {
    let Some((left, _)) = line.split_once('=') else {
        return false;
    };
    let left = left.trim();
    left == key || left.trim_matches('"') == key
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
hostname = \"mx.example.com\"
tls.ca_bundle = \"/x.pem\"

[[listener]]
address = \"0.0.0.0:25\"

[[listener]]
address = \"127.0.0.1:25\"

[tls] # certificates
certificate = \"/c.pem\"
  client_certificate = \"/cc.pem\"
";

    #[test]
    fn keys_are_found_in_their_table_or_dotted_at_the_top() {
        let source = ConfigSource::new("p.toml", TEXT);
        assert_eq!(source.key("tls", "certificate").line, Some(11));
        assert_eq!(source.key("tls", "client_certificate").line, Some(12));
        assert_eq!(source.key("tls", "ca_bundle").line, Some(2));
        assert_eq!(source.key("tls", "private_key").line, None);
        assert_eq!(source.key("tls", "private_key").to_string(), "p.toml");
    }

    #[test]
    fn listeners_are_found_by_address() {
        let source = ConfigSource::new("p.toml", TEXT);
        assert_eq!(
            source.line_mentioning("listener", "127.0.0.1:25").line,
            Some(8)
        );
        assert_eq!(source.line_mentioning("listener", "[::]:25").line, None);
    }
}
