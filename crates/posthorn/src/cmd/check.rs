//! `posthorn check [-c FILE] [--json]`: validates the config, the maps and the
//! certificates without starting anything, and says for each problem where it is and
//! how to fix it. Exit 0 clean, 1 warnings only, 78 any error (SPEC §1).
//!
//! It also tries the spool directory the way the spool uses it (create, write, fsync)
//! and warns when it is on a filesystem that forgets mail at a reboot.
//!
//! The config is found as every command finds it; when it does not parse, that error
//! (with its file:line) is the only finding, since nothing else can be checked.

mod certificates;
mod finding;
mod maps;
mod settings;
mod source;
mod spool;

use std::path::Path;
use std::process::ExitCode;
use std::time::SystemTime;

use posthorn_config::{choose_config_file, Config, ConfigError, ConfigErrorKind, CONFIG_ENV};

use certificates::Context;
use finding::{Finding, Location, Report, Severity};
use source::ConfigSource;

pub fn run(explicit: Option<&Path>, json: bool) -> anyhow::Result<ExitCode> {
    let chosen = choose_config_file(
        explicit,
        std::env::var_os(CONFIG_ENV),
        Path::new(posthorn_config::SYSTEM_CONFIG_PATH),
    );
    let report = check(chosen.as_deref(), SystemTime::now());
    if json {
        println!("{}", report.json());
    } else {
        print!("{}", report.human());
    }
    Ok(ExitCode::from(report.exit_code()))
}

/// Checks the config in `path` (`None`: the embedded default) as of `now`.
pub fn check(path: Option<&Path>, now: SystemTime) -> Report {
    let (source, parsed) = match path {
        Some(path) => read(path),
        None => {
            let text = posthorn_config::EMBEDDED_DEFAULT;
            (
                ConfigSource::new("<embedded>", text),
                Config::from_toml(text, None),
            )
        }
    };
    let findings = match parsed {
        Ok(config) => check_config(&config, &source, now),
        Err(error) => vec![config_error(&error)],
    };
    Report {
        config: source.file,
        findings,
    }
}

fn read(path: &Path) -> (ConfigSource, Result<Config, ConfigError>) {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let parsed = Config::from_toml(&text, Some(path));
            (ConfigSource::new(file, text), parsed)
        }
        Err(error) => {
            let error = ConfigError {
                file: file.clone(),
                position: None,
                kind: ConfigErrorKind::Read(error),
            };
            (ConfigSource::new(file, ""), Err(error))
        }
    }
}

/// Everything that can be checked once the config parsed.
fn check_config(config: &Config, source: &ConfigSource, now: SystemTime) -> Vec<Finding> {
    let context = Context {
        source,
        hostname: &config.hostname,
        now,
    };
    let mut findings = settings::check_listeners(&config.listeners, source);
    findings.extend(settings::check_smarthost(config, source));
    findings.extend(spool::check_spool(&config.spool, source));
    findings.extend(maps::check_access(config.maps.access.as_deref()));
    findings.extend(maps::check_mailertable(config.maps.mailertable.as_deref()));
    findings.extend(certificates::check_pair(
        certificates::SERVER,
        &config.tls,
        &context,
    ));
    findings.extend(certificates::check_pair(
        certificates::CLIENT,
        &config.tls,
        &context,
    ));
    findings.extend(certificates::check_ca_bundle(&config.tls));
    findings
}

fn config_error(error: &ConfigError) -> Finding {
    let fix = match error.kind {
        ConfigErrorKind::Read(_) => {
            "give the right file with -c or $POSTHORN_CONFIG, and make it readable"
        }
        _ => "correct this line; every key and its accepted values are listed in the SPEC's configuration section",
    };
    Finding {
        severity: Severity::Error,
        check: "config",
        location: Location {
            file: error.file.clone(),
            line: error.position.map(|position| position.line),
        },
        problem: error.kind.to_string(),
        fix: fix.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// Writes the config with a `spool` in `dir` first, so the spool check passes.
    fn config_path(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let path = dir.path().join("posthorn.toml");
        let spool = dir.path().join("spool");
        std::fs::write(&path, format!("spool = \"{}\"\n{text}", spool.display())).unwrap();
        path
    }

    #[test]
    fn a_config_that_does_not_parse_is_one_error_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = config_path(
            &dir,
            "hostname = \"mx.example.com\"\n[outbound]\nstarttls = \"always\"\n",
        );
        let report = check(Some(&path), SystemTime::now());
        assert_eq!(report.findings.len(), 1);
        let finding = &report.findings[0];
        assert_eq!(finding.check, "config");
        assert_eq!(finding.location.line, Some(4));
        assert_eq!(report.exit_code(), 78);
    }

    #[test]
    fn an_unreadable_config_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let report = check(Some(&dir.path().join("absent.toml")), SystemTime::now());
        assert_eq!(report.findings.len(), 1);
        assert_eq!(report.findings[0].location.line, None);
        assert_eq!(report.exit_code(), 78);
    }

    #[test]
    fn a_clean_config_exits_zero() {
        let dir = tempfile::tempdir().unwrap();
        let access = dir.path().join("access");
        std::fs::write(&access, "Try_TLS:broken.example NO\n").unwrap();
        let text = format!(
            "hostname = \"mx.example.com\"\n[maps]\naccess = \"{}\"\n",
            access.display()
        );
        let report = check(Some(&config_path(&dir, &text)), SystemTime::now());
        assert_eq!(report.findings, []);
        assert_eq!(report.exit_code(), 0);
    }

    #[test]
    fn a_spool_that_cannot_be_created_is_an_error_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("afile"), "").unwrap();
        let path = dir.path().join("posthorn.toml");
        let spool = dir.path().join("afile/spool");
        let text = format!(
            "hostname = \"mx.example.com\"\nspool = \"{}\"\n",
            spool.display()
        );
        std::fs::write(&path, text).unwrap();
        let report = check(Some(&path), SystemTime::now());
        let found: Vec<_> = report
            .findings
            .iter()
            .map(|f| (f.check, f.location.line))
            .collect();
        assert_eq!(found, [("spool-unwritable", Some(2))]);
        assert_eq!(report.exit_code(), 78);
    }

    #[test]
    fn findings_from_every_part_are_collected() {
        let dir = tempfile::tempdir().unwrap();
        let access = dir.path().join("access");
        std::fs::write(&access, "Bogus:x NO\n").unwrap();
        let text = format!(
            "hostname = \"mx.example.com\"\n\
             [[listener]]\naddress = \"0.0.0.0:25\"\n[[listener]]\naddress = \"127.0.0.1:25\"\n\
             [maps]\naccess = \"{}\"\n\
             [tls]\nclient_certificate = \"/nowhere.pem\"\n",
            access.display()
        );
        let report = check(Some(&config_path(&dir, &text)), SystemTime::now());
        let found: Vec<&str> = report.findings.iter().map(|f| f.check).collect();
        assert_eq!(
            found,
            [
                "listener-collision",
                "access-map",
                "certificate-pair-incomplete"
            ]
        );
        assert_eq!(report.exit_code(), 78);
    }
}
