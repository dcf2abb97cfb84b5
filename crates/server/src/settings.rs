//! Everything a session needs that a SIGHUP may change: the config, the relay policy built
//! from it and the access map, and the TLS server configuration.

use std::path::PathBuf;
use std::sync::Arc;

use posthorn_config::Config;
use posthorn_policy::{AccessMap, RelayPolicy};
use posthorn_tls::{CertificateInfo, CertifiedKeyPaths, ClientCertRequest};

use crate::ServerError;

/// One consistent snapshot; sessions keep the one they started with.
pub(crate) struct Settings {
    pub(crate) config: Config,
    pub(crate) relay: RelayPolicy,
    pub(crate) tls: Arc<rustls::ServerConfig>,
    pub(crate) certificate: CertificateReport,
}

/// The certificate the server presents, for the startup report and `posthorn check`.
#[derive(Debug, Clone)]
pub struct CertificateReport {
    pub path: PathBuf,
    pub info: CertificateInfo,
    /// A self-signed certificate was made now because none was configured.
    pub created: bool,
}

impl Settings {
    pub(crate) fn load(config: Config) -> Result<Settings, ServerError> {
        let access = match &config.maps.access {
            Some(path) => AccessMap::load(path)?,
            None => AccessMap::default(),
        };
        let relay = RelayPolicy::new(
            config.relay.networks.clone(),
            config.relay.domains.clone(),
            Arc::new(access),
        );
        let (paths, created) = certificate_paths(&config)?;
        let tls = posthorn_tls::server_config(&paths, ClientCertRequest::None)?;
        let chain = posthorn_tls::load_chain(&paths.certificate)?;
        let info = match chain.first() {
            Some(leaf) => posthorn_tls::describe(leaf)?,
            None => {
                return Err(posthorn_tls::TlsError::NoCertificate {
                    path: paths.certificate,
                }
                .into())
            }
        };
        let certificate = CertificateReport {
            path: paths.certificate.clone(),
            info,
            created,
        };
        Ok(Settings {
            config,
            relay,
            tls,
            certificate,
        })
    }
}

/// The configured certificate, or the self-signed one kept in the spool.
fn certificate_paths(config: &Config) -> Result<(CertifiedKeyPaths, bool), ServerError> {
    match (&config.tls.certificate, &config.tls.private_key) {
        (Some(certificate), Some(private_key)) => Ok((
            CertifiedKeyPaths {
                certificate: certificate.clone(),
                private_key: private_key.clone(),
            },
            false,
        )),
        _ => Ok(posthorn_tls::ensure_self_signed(
            &config.spool.join("tls"),
            &config.hostname,
        )?),
    }
}
