//! Errors that stop the server from starting or running.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("spool {path}: {source}")]
    Spool {
        path: PathBuf,
        source: posthorn_spool::SpoolError,
    },
    #[error(transparent)]
    Tls(#[from] posthorn_tls::TlsError),
    #[error(transparent)]
    Map(#[from] posthorn_policy::MapErrors),
    #[error(transparent)]
    Mailertable(#[from] posthorn_policy::MailertableErrors),
    #[error(transparent)]
    Config(#[from] posthorn_config::ConfigError),
    #[error("control socket {path}: {source}")]
    Control {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot install signal handler: {0}")]
    Signal(std::io::Error),
    #[error("outbound.smarthost {0}")]
    Smarthost(String),
    #[error("DNS resolver: {0}")]
    Dns(#[from] posthorn_dns::DnsError),
    #[error("outbound TLS: {0}")]
    TlsClient(#[from] posthorn_delivery::TlsSetupError),
}
