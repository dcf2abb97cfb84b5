//! `posthorn-bench handshake`: the CPU one TLS 1.3 handshake costs at each end, with no
//! I/O at all. Client and server run in one thread and hand each other their records
//! in memory, so what is timed is rustls and its crypto provider only: the floor under
//! what STARTTLS adds to a connection, whatever an MTA does around it.
//!
//! The client is the load generator's (`source --starttls`: certificate not checked,
//! signatures checked, no resumption); with *ring* the server is Posthorn's own
//! (`posthorn_tls::server_config`, the daemon's ECDSA P-256 setup).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use rustls::crypto::CryptoProvider;
use rustls::{
    ClientConfig, ClientConnection, ConnectionCommon, ServerConfig, ServerConnection, SideData,
};
use rustls_pki_types::ServerName;
use serde::Serialize;

/// Handshakes run first and left out of the figures (caches, lazy tables).
const WARM_UP: u32 = 200;

/// rustls' two crypto providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Provider {
    /// *ring*, which Posthorn and the other bench tools use.
    Ring,
    /// aws-lc-rs, rustls' default provider (only with the `aws-lc` cargo feature).
    AwsLcRs,
}

#[derive(Debug)]
pub struct HandshakeOptions {
    pub handshakes: u32,
    pub provider: Provider,
}

/// CPU per handshake at each end, in microseconds.
#[derive(Debug, Serialize)]
pub struct HandshakeReport {
    pub provider: &'static str,
    pub cipher_suite: String,
    pub key_exchange: String,
    pub handshakes: u32,
    pub client_us: f64,
    pub server_us: f64,
    pub both_us: f64,
}

impl HandshakeReport {
    pub fn human(&self) -> String {
        format!(
            "TLS 1.3 full handshake, {} ({}, {}), {} handshakes, CPU per handshake:\n  \
             client {:7.1} us\n  server {:7.1} us\n  both   {:7.1} us\n",
            self.provider,
            self.cipher_suite,
            self.key_exchange,
            self.handshakes,
            self.client_us,
            self.server_us,
            self.both_us
        )
    }
}

pub fn run(options: HandshakeOptions) -> Result<HandshakeReport> {
    if options.handshakes == 0 {
        bail!("--handshakes must be at least 1");
    }
    let (provider, name) = crypto_provider(options.provider)?;
    let scratch = Scratch::new()?;
    let (certificate, key) = scratch.certificate()?;
    let client = crate::tls::client_config(Arc::clone(&provider), false)?;
    let server = server_config(options.provider, provider, &certificate, &key)?;

    for _ in 0..WARM_UP {
        handshake(&client, &server)?;
    }
    let mut client_time = Duration::ZERO;
    let mut server_time = Duration::ZERO;
    let mut negotiated = None;
    for _ in 0..options.handshakes {
        let one = handshake(&client, &server)?;
        client_time += one.client;
        server_time += one.server;
        negotiated = Some((one.cipher_suite, one.key_exchange));
    }
    let (cipher_suite, key_exchange) = negotiated.unwrap_or_default();
    let per_handshake = |total: Duration| total.as_secs_f64() * 1e6 / f64::from(options.handshakes);
    Ok(HandshakeReport {
        provider: name,
        cipher_suite,
        key_exchange,
        handshakes: options.handshakes,
        client_us: per_handshake(client_time),
        server_us: per_handshake(server_time),
        both_us: per_handshake(client_time + server_time),
    })
}

fn crypto_provider(provider: Provider) -> Result<(Arc<CryptoProvider>, &'static str)> {
    match provider {
        Provider::Ring => Ok((crate::tls::provider(), "ring")),
        #[cfg(feature = "aws-lc")]
        Provider::AwsLcRs => Ok((
            Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
            "aws-lc-rs",
        )),
        #[cfg(not(feature = "aws-lc"))]
        Provider::AwsLcRs => {
            bail!("built without aws-lc-rs: cargo build --release -p posthorn-bench --features aws-lc")
        }
    }
}

/// With *ring*, the daemon's own server configuration; with aws-lc-rs, the bench
/// server's with the daemon's one TLS 1.3 ticket per handshake.
fn server_config(
    which: Provider,
    provider: Arc<CryptoProvider>,
    certificate: &Path,
    key: &Path,
) -> Result<Arc<ServerConfig>> {
    if which == Provider::Ring {
        let paths = posthorn_tls::CertifiedKeyPaths {
            certificate: certificate.to_owned(),
            private_key: key.to_owned(),
        };
        return posthorn_tls::server_config(&paths, posthorn_tls::ClientCertRequest::None)
            .context("Posthorn's server configuration");
    }
    let mut config = Arc::unwrap_or_clone(crate::tls::server_config(provider, certificate, key)?);
    config.send_tls13_tickets = 1;
    Ok(Arc::new(config))
}

struct OneHandshake {
    client: Duration,
    server: Duration,
    cipher_suite: String,
    key_exchange: String,
}

/// One full handshake, through the server's session ticket reaching the client.
fn handshake(
    client_config: &Arc<ClientConfig>,
    server_config: &Arc<ServerConfig>,
) -> Result<OneHandshake> {
    let mut records = Vec::with_capacity(4096);
    let started = Instant::now();
    let name = ServerName::try_from("localhost").context("server name")?;
    let mut client = ClientConnection::new(Arc::clone(client_config), name)?;
    let mut client_time = started.elapsed();
    let started = Instant::now();
    let mut server = ServerConnection::new(Arc::clone(server_config))?;
    let mut server_time = started.elapsed();

    // ClientHello; the server's flight; the client's Finished; the ticket.
    for client_sends in [true, false, true, false] {
        let (client_part, server_part) = if client_sends {
            pass(&mut client, &mut server, &mut records)?
        } else {
            let (server_part, client_part) = pass(&mut server, &mut client, &mut records)?;
            (client_part, server_part)
        };
        client_time += client_part;
        server_time += server_part;
    }
    if client.is_handshaking() || server.is_handshaking() || server.wants_write() {
        bail!("the handshake did not finish in four flights");
    }
    Ok(OneHandshake {
        client: client_time,
        server: server_time,
        cipher_suite: client
            .negotiated_cipher_suite()
            .map(|suite| format!("{:?}", suite.suite()))
            .unwrap_or_default(),
        key_exchange: client
            .negotiated_key_exchange_group()
            .map(|group| format!("{:?}", group.name()))
            .unwrap_or_default(),
    })
}

/// Moves everything `from` has to send into `to`; the time each side spent.
fn pass<A: SideData, B: SideData>(
    from: &mut ConnectionCommon<A>,
    to: &mut ConnectionCommon<B>,
    records: &mut Vec<u8>,
) -> Result<(Duration, Duration)> {
    records.clear();
    let started = Instant::now();
    while from.wants_write() {
        from.write_tls(records)?;
    }
    let sender = started.elapsed();
    let started = Instant::now();
    let mut unread = &records[..];
    while !unread.is_empty() {
        to.read_tls(&mut unread)?;
        to.process_new_packets()?;
    }
    Ok((sender, started.elapsed()))
}

/// A directory for the throwaway certificate, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "posthorn-bench-handshake-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Scratch(path))
    }

    fn certificate(&self) -> Result<(PathBuf, PathBuf)> {
        let certificate = self.0.join("cert.pem");
        let key = self.0.join("key.pem");
        crate::tls::write_self_signed("handshake.test", &certificate, &key)?;
        Ok((certificate, key))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_full_tls13_handshake_with_posthorns_server_configuration() {
        let report = run(HandshakeOptions {
            handshakes: 5,
            provider: Provider::Ring,
        })
        .expect("handshakes");
        assert_eq!(report.provider, "ring");
        assert_eq!(report.handshakes, 5);
        // What a client preferring rustls' (and OpenSSL's) order negotiates.
        assert_eq!(report.cipher_suite, "TLS13_AES_256_GCM_SHA384");
        assert_eq!(report.key_exchange, "X25519");
        assert!(report.client_us > 0.0 && report.server_us > 0.0);
        assert!((report.both_us - report.client_us - report.server_us).abs() < 1e-6);
    }

    #[test]
    fn refuses_zero_handshakes() {
        let error = run(HandshakeOptions {
            handshakes: 0,
            provider: Provider::Ring,
        })
        .expect_err("zero handshakes");
        assert!(error.to_string().contains("--handshakes"), "{error}");
    }
}
