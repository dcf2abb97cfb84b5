//! TLS material for Posthorn: loading PEM certificate chains and private keys,
//! making the self-signed certificate used on first start, describing certificates
//! for humans, building the rustls server configuration (TLS 1.2 and 1.3 with the
//! ring provider, optional client-certificate request) and summarizing a finished
//! handshake in sendmail's log vocabulary (`version=`, `cipher=`, `bits=`, and the
//! client's `verify=`, `cert-subject=`, `cert-issuer=`).
//!
//! Its one piece of socket I/O is [`MaybeTls`], the plaintext-or-TLS stream that the
//! server and delivery drivers both read and write, with the server side of the
//! handshake ([`MaybeTls::upgrade`]). It makes no policy decisions: which TLS mode
//! applies to a peer belongs to `posthorn-policy`, when to upgrade to the drivers in
//! `posthorn-server` and `posthorn-delivery`. Outbound (client) configurations are
//! not built here yet.

mod client_auth;
mod describe;
mod error;
mod inbound;
mod load;
mod pair;
mod self_signed;
mod server;
mod stream;
mod summary;

pub use client_auth::verify_client_chain;
pub use describe::{describe, name_covers, CertificateInfo};
pub use error::TlsError;
pub use inbound::{
    certificate_names, client_verify, trust_anchors, CertificateNames, ClientVerify,
};
pub use load::{load_chain, load_private_key};
pub use pair::load_key_pair;
pub use self_signed::{ensure_self_signed, CertifiedKeyPaths};
pub use server::{server_config, ClientCertRequest};
pub use stream::MaybeTls;
pub use summary::{summarize, SessionSummary};

/// Re-exported so callers name the same rustls the configurations come from.
pub use rustls;
pub use rustls_pki_types::{CertificateDer, PrivateKeyDer};
