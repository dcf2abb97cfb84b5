//! An outbound connection that starts in plaintext and may switch to TLS; `Detached`
//! while the socket is lent to the handshake.

use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

pub(crate) type ClientStream = posthorn_tls::MaybeTls<TcpStream, TlsStream<TcpStream>>;
