//! A connection that is plain TCP until STARTTLS and TLS after it, so the SMTP loops
//! are written once for both: the daemon's own `MaybeTls`, with the generic
//! `tokio_rustls::TlsStream` so one type serves the client and the sink.

use tokio::net::TcpStream;
use tokio_rustls::TlsStream;

/// Plain TCP, or TLS (client or server side) over it.
pub type Stream = posthorn_tls::MaybeTls<TcpStream, TlsStream<TcpStream>>;
