//! A connection that starts in plaintext and may switch to TLS in place: the one
//! stream type of inbound STARTTLS and smtps (`posthorn-server`) and of outbound
//! STARTTLS (`posthorn-delivery`). Reads and writes go to whichever layer is active.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_rustls::TlsAcceptor;

/// A socket `Io` in plaintext, or wrapped in the TLS stream `Tls` (the server or
/// client `tokio_rustls::TlsStream<Io>`).
#[derive(Debug)]
pub enum MaybeTls<Io, Tls> {
    /// Before STARTTLS, or a connection that never asks for it.
    Plain(Io),
    /// After a finished handshake. Boxed: a TLS stream is over a kilobyte, and most
    /// of a connection's moves happen before it exists.
    Tls(Box<Tls>),
    /// Only while the plaintext socket is lent to a TLS handshake (the client side
    /// hands the socket to `TlsConnector` and puts the result back); I/O fails.
    Detached,
}

/// The server side: the STARTTLS/smtps upgrade and the state it leaves.
impl<Io> MaybeTls<Io, tokio_rustls::server::TlsStream<Io>>
where
    Io: AsyncRead + AsyncWrite + Unpin,
{
    /// Runs the server side of a TLS handshake over a plaintext stream. A failed
    /// handshake has consumed the socket (`None`); a stream that is not plaintext
    /// comes back untouched with the error.
    pub async fn upgrade(
        self,
        config: Arc<rustls::ServerConfig>,
    ) -> Result<Self, (io::Error, Option<Self>)> {
        match self {
            MaybeTls::Plain(io) => match TlsAcceptor::from(config).accept(io).await {
                Ok(tls) => Ok(MaybeTls::Tls(Box::new(tls))),
                Err(error) => Err((error, None)),
            },
            already @ MaybeTls::Tls(_) => {
                Err((io::Error::other("TLS is already active"), Some(already)))
            }
            MaybeTls::Detached => Err((detached(), Some(MaybeTls::Detached))),
        }
    }

    /// Writes `last` (the final replies) and closes the sending side. Over TLS, `last`
    /// and the close_notify alert leave in one write, one segment, where writing and
    /// then shutting down would take two; a plaintext stream writes and shuts down.
    pub async fn write_last_and_close(&mut self, last: &[u8]) -> io::Result<()> {
        let mut rest = last;
        if let MaybeTls::Tls(tls) = self {
            let connection = tls.get_mut().1;
            // rustls takes what fits its send buffer (64 KiB; a QUIT reply always
            // fits). Whatever it does not take goes out below, before the alert.
            let taken = io::Write::write(&mut connection.writer(), rest)?;
            rest = &rest[taken..];
            if rest.is_empty() {
                connection.send_close_notify();
            }
        }
        if !rest.is_empty() {
            self.write_all(rest).await?;
        }
        self.shutdown().await
    }

    /// The rustls state, once TLS is active.
    pub fn tls_state(&self) -> Option<&rustls::CommonState> {
        match self {
            MaybeTls::Plain(_) | MaybeTls::Detached => None,
            MaybeTls::Tls(tls) => Some(tls.get_ref().1),
        }
    }
}

impl<Io, Tls> AsyncRead for MaybeTls<Io, Tls>
where
    Io: AsyncRead + Unpin,
    Tls: AsyncRead + Unpin,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_read(cx, buf),
            MaybeTls::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
            MaybeTls::Detached => Poll::Ready(Err(detached())),
        }
    }
}

impl<Io, Tls> AsyncWrite for MaybeTls<Io, Tls>
where
    Io: AsyncWrite + Unpin,
    Tls: AsyncWrite + Unpin,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_write(cx, buf),
            MaybeTls::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
            MaybeTls::Detached => Poll::Ready(Err(detached())),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            MaybeTls::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
            MaybeTls::Detached => Poll::Ready(Err(detached())),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTls::Plain(io) => io.is_write_vectored(),
            MaybeTls::Tls(tls) => tls.is_write_vectored(),
            MaybeTls::Detached => false,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_flush(cx),
            MaybeTls::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
            MaybeTls::Detached => Poll::Ready(Err(detached())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_shutdown(cx),
            MaybeTls::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
            MaybeTls::Detached => Poll::Ready(Err(detached())),
        }
    }
}

fn detached() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "connection handed to the TLS handshake",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ensure_self_signed, load_chain, server_config, ClientCertRequest};
    use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};
    use tokio_rustls::{server, TlsConnector};

    type ServerSide = MaybeTls<DuplexStream, server::TlsStream<DuplexStream>>;

    const HOST: &str = "mx.example.org";

    /// A server configuration with a fresh self-signed certificate for [`HOST`], and
    /// a client configuration that trusts exactly that certificate.
    fn configs() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (paths, _) = ensure_self_signed(dir.path(), HOST).expect("self-signed");
        let server = server_config(&paths, ClientCertRequest::None).expect("server config");
        let mut roots = rustls::RootCertStore::empty();
        for cert in load_chain(&paths.certificate).expect("chain") {
            roots.add(cert).expect("trust anchor");
        }
        let client = rustls::ClientConfig::builder_with_provider(crate::server::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        (server, Arc::new(client))
    }

    /// Upgrades the server end of a duplex pair while a client handshakes on the other.
    async fn upgraded() -> (ServerSide, tokio_rustls::client::TlsStream<DuplexStream>) {
        let (server_io, client_io) = duplex(64 * 1024);
        upgraded_over(server_io, client_io).await
    }

    async fn upgraded_over<Io: AsyncRead + AsyncWrite + Unpin>(
        server_io: Io,
        client_io: DuplexStream,
    ) -> (
        MaybeTls<Io, server::TlsStream<Io>>,
        tokio_rustls::client::TlsStream<DuplexStream>,
    ) {
        let (server_config, client_config) = configs();
        let name = rustls_pki_types::ServerName::try_from(HOST).expect("name");
        let connect = TlsConnector::from(client_config).connect(name, client_io);
        let (server, client) =
            tokio::join!(MaybeTls::Plain(server_io).upgrade(server_config), connect);
        let server = server
            .map_err(|(error, _)| error)
            .expect("server handshake");
        (server, client.expect("client handshake"))
    }

    /// A socket that counts the writes reaching it.
    struct CountingWrites {
        inner: DuplexStream,
        writes: usize,
    }

    impl AsyncRead for CountingWrites {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for CountingWrites {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let written = Pin::new(&mut self.inner).poll_write(cx, buf);
            if matches!(written, Poll::Ready(Ok(_))) {
                self.writes += 1;
            }
            written
        }

        /// Vectored, as a TCP socket: rustls hands over all its pending records at once.
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
            if matches!(written, Poll::Ready(Ok(_))) {
                self.writes += 1;
            }
            written
        }

        fn is_write_vectored(&self) -> bool {
            self.inner.is_write_vectored()
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    /// Reads until the peer's close_notify: rustls reports an end of stream without
    /// the alert as an `UnexpectedEof` error, so this returning means the alert came.
    async fn read_to_close(client: &mut tokio_rustls::client::TlsStream<DuplexStream>) -> Vec<u8> {
        let mut received = Vec::new();
        client
            .read_to_end(&mut received)
            .await
            .expect("a clean end, after close_notify");
        received
    }

    #[tokio::test]
    async fn plain_reads_writes_and_shutdown_pass_through() {
        let (ours, mut peer) = duplex(1024);
        let mut stream: MaybeTls<DuplexStream, DuplexStream> = MaybeTls::Plain(ours);
        stream
            .write_all(b"EHLO a.example\r\n")
            .await
            .expect("write");
        stream.flush().await.expect("flush");
        let mut line = [0; 16];
        peer.read_exact(&mut line).await.expect("peer reads");
        assert_eq!(&line, b"EHLO a.example\r\n");

        peer.write_all(b"250 ok\r\n").await.expect("peer writes");
        let mut reply = [0; 8];
        stream.read_exact(&mut reply).await.expect("read");
        assert_eq!(&reply, b"250 ok\r\n");

        stream.shutdown().await.expect("shutdown");
        assert_eq!(peer.read(&mut reply).await.expect("peer reads EOF"), 0);
    }

    #[tokio::test]
    async fn detached_refuses_every_operation() {
        let mut stream: MaybeTls<DuplexStream, DuplexStream> = MaybeTls::Detached;
        let mut buffer = [0; 4];
        let errors = [
            stream.read(&mut buffer).await.expect_err("read"),
            stream.write(b"QUIT").await.expect_err("write"),
            stream.flush().await.expect_err("flush"),
            stream.shutdown().await.expect_err("shutdown"),
        ];
        for error in errors {
            assert_eq!(error.kind(), io::ErrorKind::NotConnected);
            assert_eq!(error.to_string(), "connection handed to the TLS handshake");
        }
    }

    #[tokio::test]
    async fn upgrade_switches_to_tls_and_bytes_pass_through_it() {
        let (mut server, mut client) = upgraded().await;
        assert!(matches!(server, MaybeTls::Tls(_)));
        let state = server.tls_state().expect("TLS state once upgraded");
        assert!(state.protocol_version().is_some());
        assert!(state.negotiated_cipher_suite().is_some());

        client
            .write_all(b"EHLO a.example\r\n")
            .await
            .expect("client writes");
        client.flush().await.expect("client flushes");
        let mut line = [0; 16];
        server.read_exact(&mut line).await.expect("server reads");
        assert_eq!(&line, b"EHLO a.example\r\n");

        server
            .write_all(b"250 ok\r\n")
            .await
            .expect("server writes");
        server.flush().await.expect("server flushes");
        let mut reply = [0; 8];
        client.read_exact(&mut reply).await.expect("client reads");
        assert_eq!(&reply, b"250 ok\r\n");
    }

    #[tokio::test]
    async fn over_tls_the_last_reply_and_close_notify_leave_in_one_write() {
        let (server_io, client_io) = duplex(64 * 1024);
        let counting = CountingWrites {
            inner: server_io,
            writes: 0,
        };
        let (mut server, mut client) = upgraded_over(counting, client_io).await;
        let MaybeTls::Tls(tls) = &mut server else {
            panic!("not upgraded");
        };
        let writes_before = tls.get_ref().0.writes;

        server
            .write_last_and_close(b"221 2.0.0 Bye\r\n")
            .await
            .expect("last reply");

        let MaybeTls::Tls(tls) = &server else {
            panic!("not upgraded");
        };
        assert_eq!(tls.get_ref().0.writes - writes_before, 1);
        assert_eq!(read_to_close(&mut client).await, b"221 2.0.0 Bye\r\n");
    }

    #[tokio::test]
    async fn a_last_write_larger_than_rustls_buffer_arrives_whole_before_the_close() {
        let (server_io, client_io) = duplex(16 * 1024);
        let (mut server, mut client) = upgraded_over(server_io, client_io).await;
        let last: Vec<u8> = (0..200 * 1024).map(|i| (i % 251) as u8).collect();

        let (closed, received) = tokio::join!(
            server.write_last_and_close(&last),
            read_to_close(&mut client)
        );

        closed.expect("last bytes and close");
        assert_eq!(received.len(), last.len());
        assert!(received == last, "bytes out of order");
    }

    #[tokio::test]
    async fn in_plaintext_the_last_reply_is_written_and_the_stream_shut() {
        let (ours, mut peer) = duplex(1024);
        let mut stream: ServerSide = MaybeTls::Plain(ours);
        stream
            .write_last_and_close(b"221 2.0.0 Bye\r\n")
            .await
            .expect("last reply");
        let mut received = Vec::new();
        peer.read_to_end(&mut received)
            .await
            .expect("peer reads to EOF");
        assert_eq!(received, b"221 2.0.0 Bye\r\n");
    }

    #[tokio::test]
    async fn plaintext_and_detached_have_no_tls_state() {
        let (ours, _peer) = duplex(16);
        assert!(ServerSide::Plain(ours).tls_state().is_none());
        assert!(ServerSide::Detached.tls_state().is_none());
    }

    #[tokio::test]
    async fn upgrade_when_tls_is_active_gives_the_stream_back() {
        let (server, _client) = upgraded().await;
        let (server_config, _) = configs();
        let (error, back) = server
            .upgrade(server_config)
            .await
            .expect_err("second upgrade");
        assert_eq!(error.to_string(), "TLS is already active");
        assert!(matches!(back, Some(MaybeTls::Tls(_))));
    }

    #[tokio::test]
    async fn upgrade_of_a_detached_stream_gives_it_back() {
        let (server_config, _) = configs();
        let (error, back) = ServerSide::Detached
            .upgrade(server_config)
            .await
            .expect_err("nothing to upgrade");
        assert_eq!(error.kind(), io::ErrorKind::NotConnected);
        assert!(matches!(back, Some(MaybeTls::Detached)));
    }

    #[tokio::test]
    async fn failed_handshake_consumes_the_socket() {
        let (server_config, _) = configs();
        let (ours, mut peer) = duplex(1024);
        peer.write_all(b"EHLO not-a-client-hello\r\n")
            .await
            .expect("peer writes");
        peer.shutdown().await.expect("peer closes");
        let (error, back) = ServerSide::Plain(ours)
            .upgrade(server_config)
            .await
            .expect_err("not TLS");
        assert!(back.is_none(), "the socket went to the failed handshake");
        assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
    }

    #[tokio::test]
    async fn vectored_writes_reach_the_socket_whole() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let client = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        let (mut server, _) = listener.accept().await.expect("accept");
        let mut stream: MaybeTls<_, server::TlsStream<tokio::net::TcpStream>> =
            MaybeTls::Plain(client);
        assert!(stream.is_write_vectored());
        let pieces = [io::IoSlice::new(b"MAIL "), io::IoSlice::new(b"FROM:<>\r\n")];
        // The default `poll_write_vectored` would write the first piece only.
        let written = stream.write_vectored(&pieces).await.expect("write");
        assert_eq!(written, 14);
        let mut received = [0u8; 14];
        server.read_exact(&mut received).await.expect("read");
        assert_eq!(&received, b"MAIL FROM:<>\r\n");
        assert!(!ServerSide::Detached.is_write_vectored());
    }
}
