//! The one error type of this crate. Every variant about a file names it, because
//! the person reading it is an administrator who has to go and fix that file.

use std::path::PathBuf;

/// What went wrong while loading, making or using certificates and keys.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read (missing, permissions, I/O).
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file could not be written (self-signed certificate creation).
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not well-formed PEM.
    #[error("{path}: invalid PEM: {reason}")]
    Pem { path: PathBuf, reason: String },
    /// The file holds no `CERTIFICATE` section.
    #[error("{path}: no certificate found")]
    NoCertificate { path: PathBuf },
    /// The file holds no PKCS#8, SEC1 or PKCS#1 private key.
    #[error("{path}: no private key found")]
    NoPrivateKey { path: PathBuf },
    /// The private key is of a kind or curve the crypto provider cannot sign with.
    #[error("{path}: unusable private key: {reason}")]
    UnusableKey { path: PathBuf, reason: String },
    /// A certificate could not be parsed as X.509.
    #[error("{path}: invalid certificate: {reason}")]
    InvalidCertificate { path: PathBuf, reason: String },
    /// The private key does not belong to the certificate's public key.
    #[error("key {key} does not match certificate {certificate}")]
    KeyMismatch { key: PathBuf, certificate: PathBuf },
    /// rustls refused the configuration built from these files.
    #[error("cannot use certificate {certificate} with key {key}: {reason}")]
    Config {
        certificate: PathBuf,
        key: PathBuf,
        reason: String,
    },
    /// A certificate given as bytes (not a file) could not be parsed as X.509; callers
    /// that read it from a file know the path and should say it.
    #[error("invalid certificate: {reason}")]
    UnparsableCertificate { reason: String },
    /// Generating the self-signed certificate failed.
    #[error("cannot generate a self-signed certificate in {dir}: {reason}")]
    Generate { dir: PathBuf, reason: String },
}
