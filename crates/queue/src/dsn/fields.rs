//! Small pieces of message syntax: safe field values, folding, dates, the
//! MIME boundary.

use std::fmt::Write as _;
use std::time::SystemTime;

use chrono::{DateTime, Utc};

/// Longest line we write, CRLF excluded: RFC 5322 allows 998; shorter lines
/// read better and survive more gateways.
const FOLD_AT: usize = 78;
/// Longest piece of an unbreakable word on one line, well under 998.
const MAX_WORD: usize = 900;

/// `text` with every control character (CR and LF included) made a space, so a
/// value from the network or the spool can never start a new field or line.
pub(crate) fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Only the letters, digits and dots of `text`: safe inside a Message-ID or a
/// boundary whatever the caller passes.
pub(crate) fn atext(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect()
}

/// A date as RFC 5322 writes it, in UTC: `Tue, 14 Nov 2023 22:13:20 +0000`.
///
/// UTC rather than the local zone keeps the output a function of its inputs.
pub(crate) fn rfc5322_date(time: SystemTime) -> String {
    DateTime::<Utc>::from(time).to_rfc2822()
}

/// Appends `Name: value` CRLF, folded at spaces before `FOLD_AT` columns where
/// possible; a word too long for any line is cut into `MAX_WORD` pieces (only
/// then does folding add a space that was not there).
pub(crate) fn push_field(out: &mut String, name: &str, value: &str) {
    let value = sanitize(value);
    let _ = write!(out, "{name}:");
    let mut column = name.len() + 1;
    for word in value.split(' ').filter(|word| !word.is_empty()) {
        for piece in pieces(word, MAX_WORD) {
            if column + 1 + piece.len() > FOLD_AT && column > name.len() + 1 {
                out.push_str("\r\n");
                column = 0;
            }
            out.push(' ');
            out.push_str(piece);
            column += 1 + piece.len();
        }
    }
    out.push_str("\r\n");
}

/// Appends `text` as lines of at most `FOLD_AT` columns, breaking at spaces;
/// lines after the first start with `indent`.
pub(crate) fn push_wrapped(out: &mut String, text: &str, indent: &str) {
    let text = sanitize(text);
    let mut line = String::new();
    for word in text.split(' ').filter(|word| !word.is_empty()) {
        for piece in pieces(word, MAX_WORD) {
            if !line.is_empty() && line.len() + 1 + piece.len() > FOLD_AT {
                out.push_str(&line);
                out.push_str("\r\n");
                line = indent.to_owned();
            } else if !line.is_empty() && line != indent {
                line.push(' ');
            }
            line.push_str(piece);
        }
    }
    out.push_str(&line);
    out.push_str("\r\n");
}

/// `word` in pieces of at most `max` bytes, cut on character boundaries.
fn pieces(word: &str, max: usize) -> impl Iterator<Item = &str> {
    let mut rest = word;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut cut = rest.len().min(max);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, tail) = rest.split_at(cut);
        rest = tail;
        Some(piece)
    })
}

/// A boundary that occurs in none of `parts`.
///
/// Candidates end in `=`, so at any position of the content at most one of
/// them can match: among `parts.len()` bytes of content, fewer than that many
/// candidates can be excluded, so the search always ends.
pub(crate) fn choose_boundary(queue_id: &str, parts: &[&[u8]]) -> String {
    let stem = format!("=_posthorn_{}", atext(queue_id));
    (0u64..)
        .map(|n| format!("{stem}_{n}="))
        .find(|candidate| {
            !parts
                .iter()
                .any(|part| contains(part, candidate.as_bytes()))
        })
        .unwrap_or(stem)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn dates_are_rfc5322_in_utc() {
        let time = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(rfc5322_date(time), "Tue, 14 Nov 2023 22:13:20 +0000");
    }

    #[test]
    fn fields_fold_at_spaces_and_never_exceed_the_line_limit() {
        let mut out = String::new();
        let words: Vec<String> = (0..40).map(|n| format!("word{n}")).collect();
        push_field(
            &mut out,
            "Diagnostic-Code",
            &format!("smtp; {}", words.join(" ")),
        );
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert!(lines.len() > 3, "{out}");
        assert!(lines.iter().all(|line| line.len() <= FOLD_AT), "{out}");
        assert!(lines[1..]
            .iter()
            .all(|l| l.is_empty() || l.starts_with(' ')));
        let unfolded = out.replace("\r\n", "");
        assert_eq!(
            unfolded,
            format!("Diagnostic-Code: smtp; {}", words.join(" "))
        );
    }

    #[test]
    fn a_huge_word_and_injected_line_breaks_stay_within_limits() {
        let mut out = String::new();
        let value = format!("x\r\nBcc: evil {}", "é".repeat(1000));
        push_field(&mut out, "Diagnostic-Code", &value);
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert!(lines.iter().all(|line| line.len() <= 998));
        assert!(!lines.iter().any(|line| line.starts_with("Bcc")));
        assert_eq!(out.matches('é').count(), 1000);
    }

    #[test]
    fn wrapped_text_indents_continuations() {
        let mut out = String::new();
        push_wrapped(&mut out, &"abc ".repeat(30), "    ");
        let lines: Vec<&str> = out.trim_end().split("\r\n").collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines[0].starts_with("abc abc"));
        assert!(lines[1].starts_with("    abc abc"));
        assert!(lines.iter().all(|line| line.len() <= FOLD_AT));
        assert_eq!(out.matches("abc").count(), 30);
    }

    #[test]
    fn boundary_avoids_every_candidate_present_in_the_content() {
        let first = choose_boundary("Q1", &[b"plain"]);
        assert_eq!(first, "=_posthorn_Q1_0=");
        let hostile = b"--=_posthorn_Q1_0=\r\n=_posthorn_Q1_1=".to_vec();
        let chosen = choose_boundary("Q/1", &[b"x", &hostile]);
        assert_eq!(chosen, "=_posthorn_Q1_2=");
    }
}
