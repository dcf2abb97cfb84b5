//! Everything a session needs that a SIGHUP may change: the config, the relay policy built
//! from it and the access map, and the TLS server configurations (one that never asks
//! for a client certificate, one that asks, for clients with `Srv_Features: v`).
//!
//! A (re)load reads the access map once and shares it with the outbound routing built
//! from the same config: two reads cost time on a large map and could see two versions
//! of a file replaced in between.

use std::path::PathBuf;
use std::sync::Arc;

use posthorn_auth::Authenticator;
use posthorn_config::Config;
use posthorn_delivery::Routing;
use posthorn_policy::{AccessMap, RelayPolicy};
use posthorn_tls::rustls::RootCertStore;
use posthorn_tls::{CertificateInfo, CertifiedKeyPaths, ClientCertRequest};

use crate::outbound;
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

    /// The settings for `config`, whose relay policy answers from `access` (the map
    /// [`load_access_map`] read for this same config).
    pub(crate) fn load(config: Config, access: Arc<AccessMap>) -> Result<Settings, ServerError> {
        let relay = relay_policy(&config, access);
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

/// What a SIGHUP builds from a new `config`: the outbound routing and the settings,
/// sharing one read of the access map.
pub(crate) fn load_with_routing(config: Config) -> Result<(Routing, Settings), ServerError> {
    let access = load_access_map(&config)?;
    let routing = outbound::routing(&config, Arc::clone(&access))?;
    Ok((routing, Settings::load(config, access)?))
}

/// The access map `config` names, read now, or the empty map without one. Errors name
/// the file and line.
pub(crate) fn load_access_map(config: &Config) -> Result<Arc<AccessMap>, ServerError> {
    let access = match &config.maps.access {
        Some(path) => AccessMap::load(path)?,
        None => AccessMap::default(),
    };
    Ok(Arc::new(access))
}

/// Relay control as `config` says (`relay.networks`, `relay.domains`) over `access`.
pub(crate) fn relay_policy(config: &Config, access: Arc<AccessMap>) -> RelayPolicy {
    RelayPolicy::new(
        config.relay.networks.clone(),
        config.relay.domains.clone(),
        access,
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use tempfile::TempDir;

    /// A config whose spool and access map (holding `access`) live in a fresh
    /// directory, removed with the returned guard.
    fn config_with_access(access: &str) -> (Config, TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let access_path = dir.path().join("access");
        std::fs::write(&access_path, access).expect("write access map");
        let text = format!(
            "hostname = \"mx.test\"\nspool = {:?}\n[maps]\naccess = {:?}\n\
             [dns]\nnameservers = [\"127.0.0.1:5300\"]\n",
            dir.path().join("spool").display().to_string(),
            access_path.display().to_string(),
        );
        let config = Config::from_toml(&text, None).expect("config");
        (config, dir)
    }

    #[test]
    fn relay_policy_and_routing_of_one_load_share_one_access_map() {
        let (config, _dir) = config_with_access("Connect:192.0.2.1 REJECT\n");
        let (routing, settings) = load_with_routing(config).expect("load");
        assert!(std::ptr::eq(settings.relay.access(), &*routing.access));
        assert_eq!(
            routing.access.path().and_then(Path::file_name),
            Some("access".as_ref())
        );
    }

    #[test]
    fn a_bad_access_map_line_is_reported_with_file_and_line() {
        let (config, dir) = config_with_access("Connect:192.0.2.1 REJECT\nnonsense\n");
        let Err(error) = load_with_routing(config) else {
            panic!("a bad access map loaded");
        };
        let expected = format!("{}:2:", dir.path().join("access").display());
        assert!(error.to_string().starts_with(&expected), "{error}");
    }

    #[test]
    fn without_an_access_map_the_relay_policy_uses_the_empty_map() {
        let (mut config, _dir) = config_with_access("");
        config.maps.access = None;
        let access = load_access_map(&config).expect("empty map");
        assert_eq!(access.path(), None);
        let relay = relay_policy(&config, Arc::clone(&access));
        assert!(std::ptr::eq(relay.access(), &*access));
    }
}
