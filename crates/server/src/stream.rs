//! The client connection: plaintext, upgraded to TLS in place by STARTTLS or at once
//! on an smtps listener ([`posthorn_tls::MaybeTls::upgrade`]).

use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// The client connection, plaintext or TLS.
pub(crate) type Stream = posthorn_tls::MaybeTls<TcpStream, TlsStream<TcpStream>>;
