//! `TLS_Srv:`, `TLS_Rcpt:` and `TLS_Clt:` values: sendmail's TLS requirements.
//!
//! Grammar (sendmail cf/README, "TLS_Srv"): an optional `TEMP+` or `PERM+` saying how
//! an unmet requirement fails, then `VERIFY`, `VERIFY:bits` or `ENCR:bits`, then any
//! number of `+` extensions: `+CN` (the peer's name must match the host name),
//! `+CN:name`, `+CS:subject`, `+CI:issuer`, and others kept as written.

use std::fmt;

use thiserror::Error;

/// How an unmet requirement fails the delivery or session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RequirementFailure {
    /// `TEMP+` or nothing: 4.7.x, try again later.
    #[default]
    Temporary,
    /// `PERM+`: 5.7.x.
    Permanent,
}

/// Which name the peer certificate's CN must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommonName {
    /// `+CN`: the host name we connected to.
    HostName,
    /// `+CN:name`.
    Name(String),
}

/// A parsed TLS requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsRequirement {
    pub failure: RequirementFailure,
    /// `VERIFY`: the peer certificate must verify.
    pub verify: bool,
    /// `ENCR:bits` or `VERIFY:bits`: at least this many cipher bits.
    pub min_bits: Option<u32>,
    pub common_name: Option<CommonName>,
    /// `+CS:`: the certificate subject.
    pub subject: Option<String>,
    /// `+CI:`: the certificate issuer.
    pub issuer: Option<String>,
    /// Other `+` extensions, as written (without the `+`).
    pub extensions: Vec<String>,
}

/// Why a requirement did not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequirementError {
    #[error("expected VERIFY, VERIFY:bits or ENCR:bits")]
    Base,
    #[error("`{0}` is not a number of bits")]
    Bits(String),
    #[error("ENCR needs a number of bits (ENCR:128)")]
    EncrWithoutBits,
    #[error("empty `+` extension")]
    EmptyExtension,
    #[error("`+{0}` needs a value (`+{0}:...`)")]
    ExtensionWithoutValue(&'static str),
}

impl TlsRequirement {
    pub fn parse(text: &str) -> Result<TlsRequirement, RequirementError> {
        let mut parts = text.split('+').map(str::trim);
        let mut first = parts.next().unwrap_or_default();
        let mut failure = RequirementFailure::Temporary;
        if first.eq_ignore_ascii_case("TEMP") || first.eq_ignore_ascii_case("PERM") {
            if first.eq_ignore_ascii_case("PERM") {
                failure = RequirementFailure::Permanent;
            }
            first = parts.next().ok_or(RequirementError::Base)?;
        }
        let (verify, min_bits) = parse_base(first)?;
        let mut requirement = TlsRequirement {
            failure,
            verify,
            min_bits,
            common_name: None,
            subject: None,
            issuer: None,
            extensions: Vec::new(),
        };
        for extension in parts {
            requirement.add_extension(extension)?;
        }
        Ok(requirement)
    }

    fn add_extension(&mut self, extension: &str) -> Result<(), RequirementError> {
        let (name, value) = match extension.split_once(':') {
            Some((name, value)) => (name, Some(value.trim())),
            None => (extension, None),
        };
        let required = |label| {
            value
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or(RequirementError::ExtensionWithoutValue(label))
        };
        match name.to_ascii_uppercase().as_str() {
            "" => return Err(RequirementError::EmptyExtension),
            "CN" => {
                self.common_name = Some(match value.filter(|v| !v.is_empty()) {
                    Some(value) => CommonName::Name(value.to_owned()),
                    None => CommonName::HostName,
                })
            }
            "CS" => self.subject = Some(required("CS")?),
            "CI" => self.issuer = Some(required("CI")?),
            _ => self.extensions.push(extension.to_owned()),
        }
        Ok(())
    }
}

fn parse_base(text: &str) -> Result<(bool, Option<u32>), RequirementError> {
    let (name, bits) = match text.split_once(':') {
        Some((name, bits)) => (name, Some(bits.trim())),
        None => (text, None),
    };
    let bits = bits
        .map(|bits| {
            bits.parse::<u32>()
                .map_err(|_| RequirementError::Bits(bits.to_owned()))
        })
        .transpose()?;
    match name.to_ascii_uppercase().as_str() {
        "VERIFY" => Ok((true, bits)),
        "ENCR" => bits
            .map(|bits| (false, Some(bits)))
            .ok_or(RequirementError::EncrWithoutBits),
        _ => Err(RequirementError::Base),
    }
}

impl fmt::Display for TlsRequirement {
    /// The canonical sendmail spelling.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.failure == RequirementFailure::Permanent {
            f.write_str("PERM+")?;
        }
        match (self.verify, self.min_bits) {
            (true, None) => f.write_str("VERIFY")?,
            (true, Some(bits)) => write!(f, "VERIFY:{bits}")?,
            (false, Some(bits)) => write!(f, "ENCR:{bits}")?,
            (false, None) => f.write_str("ENCR")?,
        }
        match &self.common_name {
            Some(CommonName::HostName) => f.write_str("+CN")?,
            Some(CommonName::Name(name)) => write!(f, "+CN:{name}")?,
            None => {}
        }
        if let Some(subject) = &self.subject {
            write!(f, "+CS:{subject}")?;
        }
        if let Some(issuer) = &self.issuer {
            write!(f, "+CI:{issuer}")?;
        }
        for extension in &self.extensions {
            write!(f, "+{extension}")?;
        }
        Ok(())
    }
}
