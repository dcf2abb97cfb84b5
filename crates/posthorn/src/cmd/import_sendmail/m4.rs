//! Just enough of m4 to read a sendmail `.mc` file: quotes (backtick opens, `'` closes,
//! nested), `dnl` to the end of the line (also after code and inside unquoted
//! arguments), `#` comments, and macro calls with their arguments, one quoting level
//! removed as m4 removes it.
//!
//! Nothing is expanded: a `.mc` file is a list of calls to sendmail's cf macros, and
//! the mapping reads those calls. Text between calls is ignored, as m4 would copy it
//! into a diversion that sendmail's cf files discard.

use thiserror::Error;

/// One macro call as written: `define(`confX', `value')` or a bare `LOCAL_CONFIG`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub name: String,
    /// Each argument with its outer quotes removed and surrounding blanks trimmed;
    /// empty for a call without parentheses.
    pub args: Vec<String>,
    /// The 1-based line where the macro name starts.
    pub line: usize,
    /// Whether the name was followed by `(`: a bare word is usually text, not a call.
    pub has_args: bool,
}

impl Call {
    /// The argument at `index`, or `""` when the call has fewer.
    pub fn arg(&self, index: usize) -> &str {
        self.args.get(index).map_or("", String::as_str)
    }
}

/// Why the `.mc` text could not be read, and the line where the problem starts.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {kind}")]
pub struct McError {
    pub line: usize,
    pub kind: McErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum McErrorKind {
    #[error("the quote opened here with ` is never closed with '{}", typographic_hint(*.typographic))]
    UnclosedQuote { typographic: bool },
    #[error("the arguments of `{name}(` opened here are never closed with `)`")]
    UnclosedCall { name: String },
}

fn typographic_hint(typographic: bool) -> &'static str {
    if typographic {
        " (a typographic quote such as ’ does not close an m4 quote: write ')"
    } else {
        ""
    }
}

/// Reads every macro call of a `.mc` text, in order.
pub fn read(text: &str) -> Result<Vec<Call>, McError> {
    let mut reader = Reader {
        chars: text.chars().collect(),
        position: 0,
        line: 1,
    };
    reader.calls()
}

struct Reader {
    chars: Vec<char>,
    position: usize,
    line: usize,
}

impl Reader {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.position).copied()
    }

    /// Takes one character, counting lines.
    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.position += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn calls(&mut self) -> Result<Vec<Call>, McError> {
        let mut calls = Vec::new();
        while let Some(c) = self.peek() {
            if c == '`' {
                // Quoted text at the top level is copied out by m4, never run.
                self.quoted()?;
            } else if c == '#' {
                self.skip_line();
            } else if is_word_start(c) {
                let line = self.line;
                let name = self.word();
                if name == "dnl" {
                    self.skip_line();
                } else if self.peek() == Some('(') {
                    let args = self.arguments(&name, line)?;
                    calls.push(Call {
                        name,
                        args,
                        line,
                        has_args: true,
                    });
                } else {
                    calls.push(Call {
                        name,
                        args: Vec::new(),
                        line,
                        has_args: false,
                    });
                }
            } else if c.is_ascii_alphanumeric() {
                // A number: its letters (`9dnl`) are part of it, not a word, as in m4.
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    self.next();
                }
            } else {
                self.next();
            }
        }
        Ok(calls)
    }

    fn word(&mut self) -> String {
        let mut word = String::new();
        while let Some(c) = self
            .peek()
            .filter(|&c| c.is_ascii_alphanumeric() || c == '_')
        {
            word.push(c);
            self.next();
        }
        word
    }

    /// Skips to the end of the line, the newline included (what `dnl` does).
    fn skip_line(&mut self) {
        while let Some(c) = self.next() {
            if c == '\n' {
                break;
            }
        }
    }

    /// Reads a quoted string at the opening backtick; returns its text without the
    /// outer quotes (inner quotes are kept, as m4 keeps them).
    fn quoted(&mut self) -> Result<String, McError> {
        let line = self.line;
        self.next();
        let mut depth = 1;
        let mut text = String::new();
        let mut typographic = false;
        while let Some(c) = self.next() {
            match c {
                '`' => depth += 1,
                '\'' => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(text);
                    }
                }
                '’' | '‘' => typographic = true,
                _ => {}
            }
            text.push(c);
        }
        Err(McError {
            line,
            kind: McErrorKind::UnclosedQuote { typographic },
        })
    }

    /// Reads `(arg, arg, ...)`; unquoted parentheses nest, unquoted `dnl` still
    /// removes the rest of its line.
    fn arguments(&mut self, name: &str, line: usize) -> Result<Vec<String>, McError> {
        self.next();
        let mut args = Vec::new();
        let mut current = String::new();
        let mut depth = 0usize;
        loop {
            let Some(c) = self.peek() else {
                let kind = McErrorKind::UnclosedCall {
                    name: name.to_owned(),
                };
                return Err(McError { line, kind });
            };
            match c {
                '`' => current.push_str(&self.quoted()?),
                _ if is_word_start(c) => {
                    let word = self.word();
                    if word == "dnl" {
                        self.skip_line();
                    } else {
                        current.push_str(&word);
                    }
                }
                ',' | ')' if depth == 0 => {
                    self.next();
                    args.push(current.trim().to_owned());
                    current.clear();
                    if c == ')' {
                        return Ok(args);
                    }
                }
                _ => {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    current.push(c);
                    self.next();
                }
            }
        }
    }
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[&str], line: usize) -> Call {
        Call {
            name: name.to_owned(),
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            line,
            has_args: true,
        }
    }

    #[test]
    fn define_with_quoted_arguments() {
        let calls = read("define(`confDOMAIN_NAME', `mx.example.com')dnl\n").unwrap();
        assert_eq!(
            calls,
            [call("define", &["confDOMAIN_NAME", "mx.example.com"], 1)]
        );
    }

    #[test]
    fn nested_quotes_lose_one_level_only() {
        let calls = read("define(`X', ``inner' and `more'')\n").unwrap();
        assert_eq!(calls[0].arg(1), "`inner' and `more'");
    }

    #[test]
    fn commas_and_parentheses_inside_quotes_are_text() {
        let calls = read("DAEMON_OPTIONS(`Port=smtp, Addr=, Name=MTA (x)')\n").unwrap();
        assert_eq!(calls[0].args, ["Port=smtp, Addr=, Name=MTA (x)"]);
    }

    #[test]
    fn unquoted_arguments_are_trimmed_and_parentheses_nest() {
        let calls = read("define(`confMAX_DAEMON_CHILDREN', 12 )\nF( a(b, c) , d)\n").unwrap();
        assert_eq!(calls[0].args, ["confMAX_DAEMON_CHILDREN", "12"]);
        assert_eq!(calls[1], call("F", &["a(b, c)", "d"], 2));
    }

    #[test]
    fn dnl_removes_the_rest_of_the_line_also_after_code() {
        let text = "dnl define(`A', `1')\ndefine(`B', `2')dnl define(`C', `3')\n";
        let calls = read(text).unwrap();
        assert_eq!(calls, [call("define", &["B", "2"], 2)]);
    }

    #[test]
    fn dnl_inside_unquoted_arguments_removes_its_line() {
        let calls = read("FEATURE(`a', dnl the rest goes\n`b')\n").unwrap();
        assert_eq!(calls, [call("FEATURE", &["a", "b"], 1)]);
    }

    #[test]
    fn dnl_inside_quotes_is_text_and_dnlx_is_another_word() {
        let calls = read("define(`X', `a dnl b')\ndnlx(`1')\n").unwrap();
        assert_eq!(calls[0].arg(1), "a dnl b");
        assert_eq!(calls[1].name, "dnlx");
    }

    #[test]
    fn hash_comments_and_quoted_top_level_text_are_skipped() {
        let text = "# DO NOT EDIT define(`A', `1')\n`define(`B', `2')'\nVERSIONID(`x')\n";
        let calls = read(text).unwrap();
        assert_eq!(calls, [call("VERSIONID", &["x"], 3)]);
    }

    #[test]
    fn bare_words_are_calls_without_arguments() {
        let calls = read("LOCAL_CONFIG\n").unwrap();
        assert_eq!(calls[0].name, "LOCAL_CONFIG");
        assert!(!calls[0].has_args && calls[0].args.is_empty());
    }

    #[test]
    fn lines_count_across_multi_line_calls() {
        let text = "\n\nFEATURE(`a',\n  `b')\ndefine(`c', `d')\n";
        let lines: Vec<usize> = read(text).unwrap().iter().map(|c| c.line).collect();
        assert_eq!(lines, [3, 5]);
    }

    #[test]
    fn an_unclosed_quote_is_an_error_at_its_line() {
        let error = read("dnl\ndefine(`A', `oops)\n").unwrap_err();
        assert_eq!(error.line, 2);
        assert_eq!(
            error.kind,
            McErrorKind::UnclosedQuote { typographic: false }
        );
    }

    #[test]
    fn a_typographic_close_quote_is_named_in_the_error() {
        let error = read("define(`confCACERT’, `/etc/x’)dnl\n").unwrap_err();
        assert!(error.to_string().contains("typographic"), "{error}");
    }

    #[test]
    fn an_unclosed_call_is_an_error_at_its_line() {
        let error = read("\nFEATURE(`a', `b'\n").unwrap_err();
        assert_eq!(error.line, 2);
        assert_eq!(
            error.kind,
            McErrorKind::UnclosedCall {
                name: "FEATURE".into()
            }
        );
    }
}
