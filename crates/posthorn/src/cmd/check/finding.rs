//! One problem `posthorn check` found, and the whole report: its lines, its JSON and
//! its exit code.

use std::fmt;

use serde_json::json;

use crate::exit;

/// How bad a finding is: errors stop Posthorn from working as configured, warnings
/// are things that work today but lose mail or will soon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Where a finding is: a file, and the line when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file),
            None => f.write_str(&self.file),
        }
    }
}

/// One problem: what is wrong where, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// A stable name for scripts and tests, e.g. `client-certificate-name`.
    pub check: &'static str,
    pub location: Location,
    pub problem: String,
    pub fix: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {} (fix: {})",
            self.severity.name(),
            self.location,
            self.problem,
            self.fix
        )
    }
}

/// Everything `posthorn check` found in one config.
#[derive(Debug, Default)]
pub struct Report {
    /// The config file checked, or `<embedded>`.
    pub config: String,
    pub findings: Vec<Finding>,
}

impl Report {
    fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|finding| finding.severity == severity)
            .count()
    }

    /// 0 clean, 1 warnings only, 78 (EX_CONFIG) any error.
    pub fn exit_code(&self) -> u8 {
        match self.findings.iter().map(|finding| finding.severity).max() {
            None => 0,
            Some(Severity::Warning) => 1,
            Some(Severity::Error) => exit::CONFIG,
        }
    }

    /// One line per finding, errors first, then the summary line.
    pub fn human(&self) -> String {
        let mut findings: Vec<&Finding> = self.findings.iter().collect();
        findings.sort_by_key(|finding| std::cmp::Reverse(finding.severity));
        let mut text = String::new();
        for finding in findings {
            text.push_str(&format!("{finding}\n"));
        }
        text.push_str(&self.summary());
        text.push('\n');
        text
    }

    fn summary(&self) -> String {
        let (errors, warnings) = (self.count(Severity::Error), self.count(Severity::Warning));
        if errors + warnings == 0 {
            return format!("{}: no problems found", self.config);
        }
        format!(
            "{}: {errors} {}, {warnings} {}",
            self.config,
            plural(errors, "error", "errors"),
            plural(warnings, "warning", "warnings")
        )
    }

    pub fn json(&self) -> serde_json::Value {
        let findings: Vec<_> = self
            .findings
            .iter()
            .map(|finding| {
                json!({
                    "severity": finding.severity.name(),
                    "check": finding.check,
                    "file": finding.location.file,
                    "line": finding.location.line,
                    "problem": finding.problem,
                    "fix": finding.fix,
                })
            })
            .collect();
        json!({
            "config": self.config,
            "errors": self.count(Severity::Error),
            "warnings": self.count(Severity::Warning),
            "findings": findings,
        })
    }
}

fn plural(count: usize, one: &'static str, many: &'static str) -> &'static str {
    if count == 1 {
        one
    } else {
        many
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(severity: Severity, line: Option<usize>) -> Finding {
        Finding {
            severity,
            check: "example",
            location: Location {
                file: "posthorn.toml".into(),
                line,
            },
            problem: "something is wrong".into(),
            fix: "make it right".into(),
        }
    }

    fn report(findings: Vec<Finding>) -> Report {
        Report {
            config: "posthorn.toml".into(),
            findings,
        }
    }

    #[test]
    fn exit_code_follows_the_worst_finding() {
        assert_eq!(report(vec![]).exit_code(), 0);
        assert_eq!(
            report(vec![finding(Severity::Warning, None)]).exit_code(),
            1
        );
        let both = vec![
            finding(Severity::Warning, None),
            finding(Severity::Error, None),
        ];
        assert_eq!(report(both).exit_code(), 78);
    }

    #[test]
    fn human_output_is_one_line_per_finding_errors_first_then_a_summary() {
        let text = report(vec![
            finding(Severity::Warning, None),
            finding(Severity::Error, Some(7)),
        ])
        .human();
        assert_eq!(
            text,
            "error: posthorn.toml:7: something is wrong (fix: make it right)\n\
             warning: posthorn.toml: something is wrong (fix: make it right)\n\
             posthorn.toml: 1 error, 1 warning\n"
        );
        assert_eq!(report(vec![]).human(), "posthorn.toml: no problems found\n");
    }

    #[test]
    fn json_counts_and_lists_findings() {
        let value = report(vec![finding(Severity::Error, Some(3))]).json();
        assert_eq!(value["errors"], 1);
        assert_eq!(value["warnings"], 0);
        assert_eq!(value["findings"][0]["severity"], "error");
        assert_eq!(value["findings"][0]["line"], 3);
        assert_eq!(value["findings"][0]["check"], "example");
    }
}
