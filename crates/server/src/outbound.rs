//! The daemon's delivery side, built from the config: the router (mailertable,
//! smarthost, MX through the configured resolver), the STARTTLS client, the deliverer
//! and the scheduler that drives it.

use std::sync::Arc;

use posthorn_config::{Config, StartTlsMode};
use posthorn_delivery::route::{Router, Smarthost, ThisHost};
use posthorn_delivery::tls_memory::TlsMemory;

use posthorn_delivery::{
    configured_client_certificate, ClientSettings, Deliverer, DelivererSettings, Routing,
    TlsClient, TlsSettings,
};
use posthorn_dns::{HickoryResolver, Resolver};
use posthorn_policy::mailertable::Mailertable;
use posthorn_policy::outbound_tls::TlsMode;
use posthorn_policy::AccessMap;
use posthorn_queue::runner::{RunnerSettings, Scheduler};
use posthorn_queue::schedule::{Lifetime, RetrySchedule};
use posthorn_spool::Spool;

use crate::ServerError;

/// The scheduler for `config`, delivering from `spool`, and its deliverer (whose router
/// a reload replaces). `access` is the access map read for this same config.
pub(crate) fn scheduler(
    config: &Config,
    spool: &Spool,
    access: Arc<AccessMap>,
) -> Result<(Scheduler, Arc<Deliverer>), ServerError> {
    let deliverer = Arc::new(deliverer(config, access)?);
    let settings = RunnerSettings {
        hostname: config.hostname.clone(),
        schedule: RetrySchedule {
            min: config.queue.retry_min,
            max: config.queue.retry_max,
        },
        lifetime: Lifetime {
            warn_after: config.queue.warn_after,
            give_up_after: config.queue.give_up_after,
        },
        concurrency: config.queue.delivery_concurrency,
        policy_label: policy_label(config.outbound.starttls).to_owned(),
    };
    let scheduler = Scheduler::new(spool.clone(), Arc::clone(&deliverer), settings);
    Ok((scheduler, deliverer))
}

fn deliverer(config: &Config, access: Arc<AccessMap>) -> Result<Deliverer, ServerError> {
    let client_certificate = configured_client_certificate(config);
    let tls = TlsClient::new(config.tls.ca_bundle.as_deref(), client_certificate.as_ref())?;
    let memory = TlsMemory::in_spool(&config.spool);
    let settings = DelivererSettings {
        client: ClientSettings {
            ehlo_name: config.hostname.clone(),
            connect_timeout: config.outbound.connect_timeout,
            reply_timeout: config.outbound.reply_timeout,
        },
        destination_concurrency: config.outbound.destination_concurrency,
        messages_per_connection: config.outbound.messages_per_connection,
        this_host: this_host(config),
    };
    Ok(Deliverer::new(
        routing(config, access)?,
        tls,
        memory,
        settings,
    ))
}

/// Our name and listening addresses: an MX (or any hop) that is one of them is a mail
/// loop (RFC 5321 §5.1).
fn this_host(config: &Config) -> ThisHost {
    let listeners = config
        .listeners
        .iter()
        .map(|listener| listener.address)
        .collect();
    ThisHost::new(&config.hostname, listeners)
}

/// Routing and TLS policy as `config` says: mailertable, smarthost, port, resolver, the
/// `[outbound]` TLS settings, and `access` (the access map read for this same config,
/// which the relay policy shares). SIGHUP builds a new one.
pub(crate) fn routing(config: &Config, access: Arc<AccessMap>) -> Result<Routing, ServerError> {
    Ok(Routing {
        router: router(config)?,
        access,
        tls: TlsSettings {
            mode: TlsMode::from(config.outbound.starttls),
            failure: config.outbound.tls_failure,
            memory: config.outbound.tls_failure_memory,
            plaintext_retry: config.outbound.plaintext_retry,
        },
    })
}

/// Routing as `config` says: its mailertable, smarthost, port and resolver.
fn router(config: &Config) -> Result<Router, ServerError> {
    let mailertable = match &config.maps.mailertable {
        Some(path) => Mailertable::load(path)?,
        None => Mailertable::default(),
    };
    let smarthost = match config.outbound.smarthost.as_deref() {
        Some(text) if !text.is_empty() => Some(
            text.parse::<Smarthost>()
                .map_err(|error| ServerError::Smarthost(format!("{text}: {error}")))?,
        ),
        _ => None,
    };
    let resolver: Arc<dyn Resolver> = Arc::new(HickoryResolver::new(&config.dns.nameservers)?);
    Ok(Router::new(
        Arc::new(mailertable),
        smarthost,
        config.outbound.port,
        resolver,
    ))
}

/// The `policy=` of delivery log lines when no access-map entry decided.
fn policy_label(mode: StartTlsMode) -> &'static str {
    match mode {
        StartTlsMode::Off => "off",
        StartTlsMode::Opportunistic => "opportunistic",
        StartTlsMode::Required => "required",
        StartTlsMode::Verified => "verified",
    }
}
