//! RFC 5322 §3.4 address lists, as written in To:, Cc: and Bcc: headers and in
//! sendmail's recipient arguments, down to the addr-specs an envelope needs.
//!
//! Handled: `addr@dom`, `Name <addr@dom>`, `"Quoted, Name" <addr@dom>`, comments
//! (nested, anywhere), groups (`team: a@x, b@y;`, `undisclosed-recipients:;`),
//! obsolete routes (`<@relay:addr@dom>`), and folding (the caller unfolds). A bare
//! local part (`bob`) is completed with the host name, as sendmail does. It does not
//! decode RFC 2047 words: display names are thrown away.

use posthorn_proto::address::parse_forward_path;
use posthorn_proto::ForwardPath;

/// An address that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad address {text:?}: {reason}")]
pub struct BadAddress {
    pub text: String,
    pub reason: String,
}

/// The addr-specs of an address list, in order, as written (without angle brackets).
pub fn addr_specs(list: &str) -> Vec<String> {
    let text = without_comments(list);
    split_addresses(&text)
        .into_iter()
        .filter_map(|address| addr_spec(&address))
        .collect()
}

/// One address to an envelope recipient; a bare local part gets `@hostname`.
pub fn forward_path(spec: &str, hostname: &str) -> Result<ForwardPath, BadAddress> {
    let qualified = if has_domain(spec) {
        spec.to_owned()
    } else {
        format!("{spec}@{hostname}")
    };
    parse_forward_path(format!("<{qualified}>").as_bytes(), true).map_err(|error| BadAddress {
        text: spec.to_owned(),
        reason: error.to_string(),
    })
}

/// An `@` outside a quoted local part.
fn has_domain(spec: &str) -> bool {
    let mut quoted = false;
    let mut escaped = false;
    for c in spec.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '@' if !quoted => return true,
            _ => {}
        }
    }
    false
}

/// The text with every comment replaced by a space; quoted strings and domain
/// literals are left alone, as are backslash escapes in them.
fn without_comments(text: &str) -> String {
    let mut output = String::with_capacity(text.len());
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                output.push(c);
            }
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => {
                escaped = true;
                if depth == 0 {
                    output.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                output.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    output.push(' ');
                }
            }
            _ if depth > 0 => {}
            _ => output.push(c),
        }
    }
    output
}

/// Splits at the commas between addresses; a group's display name (up to its `:`) is
/// dropped and its `;` ends an address too. Separators inside quotes, angle brackets
/// or domain literals do not count.
fn split_addresses(text: &str) -> Vec<String> {
    let mut addresses = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    let mut in_angle = false;
    let mut in_literal = false;
    for c in text.chars() {
        let structural = !(quoted || escaped || in_angle || in_literal);
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' if !in_literal => quoted = !quoted,
            '<' if structural => in_angle = true,
            '>' if in_angle && !quoted => in_angle = false,
            '[' if !quoted => in_literal = true,
            ']' if in_literal => in_literal = false,
            ':' if structural => {
                current.clear(); // a group's display name
                continue;
            }
            ',' | ';' if structural => {
                addresses.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    addresses.push(current);
    addresses
}

/// The addr-spec of one `mailbox`: the part in angle brackets (minus any route), or
/// the whole text; white space outside quotes is dropped. None when empty.
fn addr_spec(address: &str) -> Option<String> {
    let inner = match (unquoted_position(address, '<'), address.rfind('>')) {
        (Some(open), Some(close)) if open < close => &address[open + 1..close],
        _ => address,
    };
    let inner = match inner.trim_start().starts_with('@') {
        true => inner.split_once(':').map_or(inner, |(_, rest)| rest),
        false => inner,
    };
    let spec = without_unquoted_space(inner);
    (!spec.is_empty()).then_some(spec)
}

/// The byte position of the first `wanted` outside a quoted string.
fn unquoted_position(text: &str, wanted: char) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (index, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == wanted && !quoted => return Some(index),
            _ => {}
        }
    }
    None
}

/// Drops white space around `.` and `@` (the obsolete syntax allows it there) and
/// keeps any other outside quotes, where it makes the address invalid as it should.
fn without_unquoted_space(text: &str) -> String {
    let text = text.trim();
    let mut output = String::with_capacity(text.len());
    let mut quoted = false;
    let mut escaped = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                while chars.next_if(|next| next.is_whitespace()).is_some() {}
                let joins = |c: Option<char>| matches!(c, Some('.' | '@'));
                if !(joins(output.chars().last()) || joins(chars.peek().copied())) {
                    output.push(' ');
                }
                continue;
            }
            _ => {}
        }
        output.push(c);
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_lists_yield_their_addr_specs() {
        let table: [(&str, &[&str]); 15] = [
            ("a@x.example", &["a@x.example"]),
            ("a@x.example, b@y.example", &["a@x.example", "b@y.example"]),
            ("Alice <a@x.example>", &["a@x.example"]),
            ("\"Doe, John\" <j@x.example>, b@y", &["j@x.example", "b@y"]),
            ("a@x (Alice, the boss), b@y", &["a@x", "b@y"]),
            ("(nested (comment, here)) a@x", &["a@x"]),
            ("team: a@x, Bob <b@y>;, c@z", &["a@x", "b@y", "c@z"]),
            ("undisclosed-recipients:;", &[]),
            ("<@relay.example,@other:a@x>", &["a@x"]),
            ("\"odd,local\"@x", &["\"odd,local\"@x"]),
            ("a @ x . example", &["a@x.example"]),
            ("bob", &["bob"]),
            ("a@[192.0.2.1], b@y", &["a@[192.0.2.1]", "b@y"]),
            ("\"a<b>, c\" <q@x>", &["q@x"]),
            (" , ,a@x,, ", &["a@x"]),
        ];
        for (list, expected) in table {
            assert_eq!(addr_specs(list), expected, "{list}");
        }
    }

    #[test]
    fn specs_become_envelope_addresses() {
        let path = |spec| forward_path(spec, "host.example").map(|path| path.to_string());
        assert_eq!(path("a@x.example"), Ok("a@x.example".to_owned()));
        assert_eq!(path("bob"), Ok("bob@host.example".to_owned()));
        assert_eq!(path("\"a@b\""), Ok("\"a@b\"@host.example".to_owned()));
        assert!(path("a@").is_err());
        assert!(path("a b@x").is_err());
        assert_eq!(addr_specs("a b@x"), ["a b@x"]);
    }
}
