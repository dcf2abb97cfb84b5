//! Map findings: every bad line of the access map and the mailertable, with its
//! file and line (the parsers in `posthorn-policy` already collect them all).

use std::path::Path;

use posthorn_policy::{
    line_errors::LineErrors, AccessMap, Mailertable, MailertableErrorKind, MapErrorKind,
};

use super::finding::{Finding, Location, Severity};

/// Findings for `maps.access`; none when it is unset or parses.
pub fn check_access(path: Option<&Path>) -> Vec<Finding> {
    match path.map(AccessMap::load) {
        Some(Err(LineErrors(errors))) => errors
            .into_iter()
            .map(|error| Finding {
                severity: Severity::Error,
                check: "access-map",
                location: location(&error.path, error.line),
                fix: access_fix(&error.kind).to_owned(),
                problem: error.kind.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Findings for `maps.mailertable`; none when it is unset or parses.
pub fn check_mailertable(path: Option<&Path>) -> Vec<Finding> {
    match path.map(Mailertable::load) {
        Some(Err(LineErrors(errors))) => errors
            .into_iter()
            .map(|error| Finding {
                severity: Severity::Error,
                check: "mailertable",
                location: location(&error.path, error.line),
                fix: mailertable_fix(&error.kind).to_owned(),
                problem: error.kind.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn location(path: &Path, line: Option<usize>) -> Location {
    Location {
        file: path.display().to_string(),
        line,
    }
}

fn access_fix(kind: &MapErrorKind) -> &'static str {
    match kind {
        MapErrorKind::Read(_) => {
            "check `maps.access` and that the user Posthorn runs as may read the file"
        }
        MapErrorKind::UnknownTag(_) => {
            "spell the tag as sendmail does (e.g. `Try_TLS:`), or remove the line"
        }
        MapErrorKind::Key { .. } => {
            "correct the key: a host name, domain, IPv4 address or prefix, or `IPv6:` address"
        }
        MapErrorKind::Value { .. } => {
            "use a value this tag accepts (see the message), as in sendmail's cf/README"
        }
        MapErrorKind::Duplicate { .. } => {
            "keep one of the two lines: only the first would ever match"
        }
    }
}

fn mailertable_fix(kind: &MailertableErrorKind) -> &'static str {
    match kind {
        MailertableErrorKind::Read(_) => "check `maps.mailertable` and that the user Posthorn runs as may read the file",
        MailertableErrorKind::Duplicate { .. } => "keep one of the two lines: only the first would ever match",
        MailertableErrorKind::NotSmtp { .. } => "deliver over SMTP (`esmtp:host`) or refuse with `error:`; remove entries for local mailers",
        _ => "write the entry as `domain  mailer:host` (e.g. `esmtp:[relay.example.com]:2525`) or `error:5.1.1:550 text`",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn every_bad_access_line_is_a_finding_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "access",
            "# comment\nTry_TLS:broken.example NO\nTry_TSL:x.example NO\nTry_TLS:y.example MAYBE\n",
        );
        let findings = check_access(Some(&path));
        let lines: Vec<String> = findings.iter().map(|f| f.location.to_string()).collect();
        let file = path.display();
        assert_eq!(lines, [format!("{file}:3"), format!("{file}:4")]);
        assert!(findings
            .iter()
            .all(|f| f.severity == Severity::Error && f.check == "access-map"));
        assert!(findings[0].problem.contains("Try_TSL"), "{}", findings[0]);
    }

    #[test]
    fn a_good_or_absent_map_has_no_findings() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "access", "Try_TLS:broken.example NO\n");
        assert_eq!(check_access(Some(&path)), []);
        assert_eq!(check_access(None), []);
        assert_eq!(check_mailertable(None), []);
    }

    #[test]
    fn an_unreadable_map_is_a_finding_without_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let findings = check_access(Some(&dir.path().join("absent")));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].location.line, None);
    }

    #[test]
    fn bad_mailertable_lines_are_findings_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "mailertable",
            "example.com esmtp:[relay.example.com]\nlocal.example local:user\nnovalue.example\n",
        );
        let findings = check_mailertable(Some(&path));
        let lines: Vec<Option<usize>> = findings.iter().map(|f| f.location.line).collect();
        assert_eq!(lines, [Some(2), Some(3)]);
        assert!(findings.iter().all(|f| f.check == "mailertable"));
    }
}
