//! A [`Prober`] built from the config the way the daemon builds its deliverer: the same
//! mailertable, smarthost, resolver, access map, `[outbound]` TLS settings, trust anchors
//! and client certificate, so the probe sees what delivery would.

use std::sync::Arc;

use posthorn_config::Config;
use posthorn_dns::{DnsError, HickoryResolver, Resolver};
use posthorn_policy::mailertable::Mailertable;
use posthorn_policy::outbound_tls::TlsMode;
use posthorn_policy::{AccessMap, MailertableErrors, MapErrors};
use thiserror::Error;

use super::{FallbackSettings, ProbeSetup, ProbeTimeouts, ProbeTls, Prober};
use crate::route::{Router, Smarthost};
use crate::tls::TlsSetupError;
use crate::tls_memory::TlsMemory;

/// A config that cannot be probed with: every one is a configuration error (exit 78).
#[derive(Debug, Error)]
pub enum ProbeSetupError {
    #[error(transparent)]
    AccessMap(#[from] MapErrors),
    #[error(transparent)]
    Mailertable(#[from] MailertableErrors),
    #[error("outbound.smarthost {0}")]
    Smarthost(String),
    #[error(transparent)]
    Resolver(#[from] DnsError),
    #[error("outbound TLS: {0}")]
    Tls(#[from] TlsSetupError),
}

impl Prober {
    /// The prober for `config`, with `timeouts` for every step.
    pub fn from_config(
        config: &Config,
        timeouts: ProbeTimeouts,
    ) -> Result<Prober, ProbeSetupError> {
        let resolver: Arc<dyn Resolver> = Arc::new(HickoryResolver::new(&config.dns.nameservers)?);
        let access = match &config.maps.access {
            Some(path) => AccessMap::load(path)?,
            None => AccessMap::default(),
        };
        let outbound = &config.outbound;
        let setup = ProbeSetup {
            router: router(config, Arc::clone(&resolver))?,
            resolver,
            port: outbound.port,
            access: Arc::new(access),
            mode: TlsMode::from(outbound.starttls),
            fallback: FallbackSettings {
                tls_failure: outbound.tls_failure,
                plaintext_retry: outbound.plaintext_retry,
                memory: !outbound.tls_failure_memory.is_zero(),
            },
            memory: Some(TlsMemory::in_spool(&config.spool)),
            ehlo_name: config.hostname.clone(),
            timeouts,
        };
        let client = crate::tls::configured_client_certificate(config);
        let tls = ProbeTls::new(config.tls.ca_bundle.as_deref(), client.as_ref())?;
        Ok(Prober::new(setup, tls))
    }
}

/// Mailertable, smarthost and port as the daemon's router has them.
fn router(config: &Config, resolver: Arc<dyn Resolver>) -> Result<Router, ProbeSetupError> {
    let mailertable = match &config.maps.mailertable {
        Some(path) => Mailertable::load(path)?,
        None => Mailertable::default(),
    };
    let smarthost = match config.outbound.smarthost.as_deref() {
        Some(text) if !text.trim().is_empty() => Some(
            text.parse::<Smarthost>()
                .map_err(|error| ProbeSetupError::Smarthost(error.to_string()))?,
        ),
        _ => None,
    };
    Ok(Router::new(
        Arc::new(mailertable),
        smarthost,
        config.outbound.port,
        resolver,
    ))
}
