//! Everything a session needs that a SIGHUP may change: the config, the relay policy built
//! from it and the access map, and the TLS server configurations (one that never asks
//! for a client certificate, one that asks, for clients with `Srv_Features: v`).

use std::path::PathBuf;
use std::sync::Arc;

use posthorn_auth::Authenticator;
use posthorn_config::Config;
use posthorn_policy::{AccessMap, RelayPolicy};
use posthorn_tls::rustls::RootCertStore;
use posthorn_tls::{CertificateInfo, CertifiedKeyPaths, ClientCertRequest};

use crate::ServerError;

/// One consistent snapshot; sessions keep the one they started with.
pub(crate) struct Settings {
    pub(crate) config: Config,
    pub(crate) relay: RelayPolicy,
    pub(crate) tls: Arc<rustls::ServerConfig>,
    /// Like `tls`, but asking for a client certificate naming `client_roots`.
    pub(crate) tls_requesting: Arc<rustls::ServerConfig>,
    /// What client certificates are verified against: `tls.ca_bundle`, else the
    /// system store.
    pub(crate) client_roots: Arc<RootCertStore>,
    pub(crate) certificate: CertificateReport,
    /// Checks AUTH credentials (`auth.password_file` or `auth.dovecot_socket`); without
    /// one, AUTH is not offered.
    pub(crate) authenticator: Option<Arc<dyn Authenticator>>,
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
    /// The server configuration for a client, and the roots its certificate is then
    /// verified against (`None`: no certificate is requested).
    pub(crate) fn tls_for(
        &self,
        request_certificate: bool,
    ) -> (Arc<rustls::ServerConfig>, Option<&Arc<RootCertStore>>) {
        if request_certificate {
            (Arc::clone(&self.tls_requesting), Some(&self.client_roots))
        } else {
            (Arc::clone(&self.tls), None)
        }
    }

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
        let client_roots = Arc::new(posthorn_tls::trust_anchors(
            config.tls.ca_bundle.as_deref(),
        )?);
        let tls_requesting = posthorn_tls::server_config(
            &paths,
            ClientCertRequest::Request {
                roots: Arc::clone(&client_roots),
            },
        )?;
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
        let authenticator = posthorn_auth::authenticator_from_config(&config.auth);
        Ok(Settings {
            config,
            relay,
            tls,
            tls_requesting,
            client_roots,
            certificate,
            authenticator,
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
