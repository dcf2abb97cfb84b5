//! Real handshakes between a rustls client and `server_config`, in memory: two
//! connections pumping bytes into each other, no sockets.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use posthorn_tls::rustls::pki_types::ServerName;
use posthorn_tls::rustls::{self, ClientConfig, ClientConnection, Connection, RootCertStore};
use posthorn_tls::{
    certificate_names, client_verify, describe, ensure_self_signed, load_chain, server_config,
    summarize, verify_client_chain, CertifiedKeyPaths, ClientCertRequest, ClientVerify, TlsError,
};

const HOST: &str = "mx.test.example";

fn self_signed(dir: &Path) -> CertifiedKeyPaths {
    ensure_self_signed(dir, HOST).expect("self-signed pair").0
}

fn trusting(paths: &CertifiedKeyPaths) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for cert in load_chain(&paths.certificate).expect("chain") {
        roots.add(cert).expect("root");
    }
    roots
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_config(
    roots: RootCertStore,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert> {
    ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots)
}

/// Moves bytes both ways until neither side has anything left to say.
fn pump(client: &mut Connection, server: &mut Connection) -> Result<(), rustls::Error> {
    for _ in 0..32 {
        let moved = transfer(client, server)? + transfer(server, client)?;
        if moved == 0 {
            return Ok(());
        }
    }
    Err(rustls::Error::General("handshake did not settle".into()))
}

fn transfer(from: &mut Connection, to: &mut Connection) -> Result<usize, rustls::Error> {
    let mut wire = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut wire).expect("write to a Vec");
    }
    let mut remaining = &wire[..];
    while !remaining.is_empty() {
        to.read_tls(&mut remaining).expect("read from a slice");
        to.process_new_packets()?;
    }
    Ok(wire.len())
}

fn connect(
    server: Arc<rustls::ServerConfig>,
    client: ClientConfig,
) -> Result<(Connection, Connection), rustls::Error> {
    let name = ServerName::try_from(HOST).expect("name");
    let mut client = Connection::Client(ClientConnection::new(Arc::new(client), name)?);
    let mut server = Connection::Server(rustls::ServerConnection::new(server)?);
    pump(&mut client, &mut server)?;
    Ok((client, server))
}

#[test]
fn tls13_handshake_is_summarized_as_sendmail_logs_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = self_signed(dir.path());
    let server = server_config(&paths, ClientCertRequest::None).expect("server config");
    let client = client_config(trusting(&paths), &[&rustls::version::TLS13]).with_no_client_auth();
    let (mut client, mut server) = connect(server, client).expect("handshake");

    // Application data flows both ways: the session really works.
    server.writer().write_all(b"220 ready\r\n").expect("write");
    client.writer().write_all(b"EHLO c\r\n").expect("write");
    pump(&mut client, &mut server).expect("data");
    let mut greeting = String::new();
    client.reader().read_to_string(&mut greeting).ok();
    assert_eq!(greeting, "220 ready\r\n");

    let summary = summarize(&server).expect("handshake done");
    assert_eq!(summary.version, "TLSv1.3");
    assert!(summary.cipher.starts_with("TLS_"), "{}", summary.cipher);
    let negotiated = server.negotiated_cipher_suite().expect("suite").suite();
    let expected_bits = match negotiated {
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256 => 128,
        _ => 256,
    };
    assert_eq!(summary.bits, expected_bits);
    assert_eq!(
        summary.peer_certificate, None,
        "no client cert was asked for"
    );

    let client_view = summarize(&client).expect("client side done");
    assert_eq!(client_view.cipher, summary.cipher);
    let server_cert = client_view
        .peer_certificate
        .expect("server presented its cert");
    assert_eq!(describe(&server_cert).expect("describe").names, [HOST]);
}

#[test]
fn tls12_handshake_uses_openssl_cipher_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = self_signed(dir.path());
    let server = server_config(&paths, ClientCertRequest::None).expect("server config");
    let client = client_config(trusting(&paths), &[&rustls::version::TLS12]).with_no_client_auth();
    let (_client, server) = connect(server, client).expect("handshake");
    let summary = summarize(&server).expect("handshake done");
    assert_eq!(summary.version, "TLSv1.2");
    assert!(
        summary.cipher.starts_with("ECDHE-ECDSA-"),
        "{}",
        summary.cipher
    );
}

#[test]
fn summarize_is_none_while_handshaking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = self_signed(dir.path());
    let server = server_config(&paths, ClientCertRequest::None).expect("server config");
    let fresh = rustls::ServerConnection::new(server).expect("connection");
    assert_eq!(summarize(&fresh), None);
}

#[test]
fn mismatching_key_is_refused_naming_both_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = self_signed(&dir.path().join("one"));
    let other = self_signed(&dir.path().join("two"));
    assert!(server_config(&paths, ClientCertRequest::None).is_ok());

    let crossed = CertifiedKeyPaths {
        certificate: paths.certificate.clone(),
        private_key: other.private_key.clone(),
    };
    let error = server_config(&crossed, ClientCertRequest::None).expect_err("mismatch");
    assert!(matches!(error, TlsError::KeyMismatch { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        format!(
            "key {} does not match certificate {}",
            other.private_key.display(),
            paths.certificate.display()
        )
    );
}

struct ClientIdentity {
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
    ca: rustls::pki_types::CertificateDer<'static>,
}

/// A CA and a client certificate it signed.
fn client_identity() -> ClientIdentity {
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Test Client CA");
    let ca = ca_params.self_signed(&ca_key).expect("ca cert");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let key = rcgen::KeyPair::generate().expect("client key");
    let mut params = rcgen::CertificateParams::new(vec!["client.test.example".into()]).expect("p");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &issuer).expect("client cert");
    ClientIdentity {
        chain: vec![cert.der().clone()],
        key: rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        ca: ca.der().clone(),
    }
}

#[test]
fn requested_client_certificate_is_recorded_and_verified_afterwards() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = self_signed(dir.path());
    let identity = client_identity();
    let mut client_roots = RootCertStore::empty();
    client_roots.add(identity.ca.clone()).expect("root");
    let client_roots = Arc::new(client_roots);

    let request = ClientCertRequest::Request {
        roots: client_roots.clone(),
    };
    let server = server_config(&paths, request).expect("server config");
    let client = client_config(trusting(&paths), &[&rustls::version::TLS13])
        .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
        .expect("client auth");
    let (_client, server) = connect(server, client).expect("handshake");

    let summary = summarize(&server).expect("handshake done");
    assert_eq!(summary.peer_certificate.as_ref(), Some(&identity.chain[0]));
    let presented = server.peer_certificates().expect("chain").to_vec();
    assert!(verify_client_chain(&client_roots, &presented).is_ok());

    // The same chain against roots that do not include its CA: verify=FAIL.
    let unrelated = Arc::new(trusting(&paths));
    assert!(verify_client_chain(&unrelated, &presented).is_err());
}

#[test]
fn untrusted_client_certificate_does_not_break_the_handshake() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = self_signed(dir.path());
    let identity = client_identity();
    // The server asks with roots that do not contain the client's CA.
    let request = ClientCertRequest::Request {
        roots: Arc::new(trusting(&paths)),
    };
    let server = server_config(&paths, request).expect("server config");
    let client = client_config(trusting(&paths), &[&rustls::version::TLS12])
        .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
        .expect("client auth");
    let (_client, server) = connect(server, client).expect("handshake goes on");
    let summary = summarize(&server).expect("handshake done");
    assert_eq!(summary.peer_certificate.as_ref(), Some(&identity.chain[0]));
}

#[test]
fn requesting_lets_clients_without_certificate_in() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = self_signed(dir.path());
    let request = ClientCertRequest::Request {
        roots: Arc::new(trusting(&paths)),
    };
    let server = server_config(&paths, request).expect("server config");
    let client = client_config(trusting(&paths), &[&rustls::version::TLS13]).with_no_client_auth();
    let (_client, server) = connect(server, client).expect("handshake");
    let summary = summarize(&server).expect("handshake done");
    assert_eq!(summary.peer_certificate, None);
    assert!(verify_client_chain(&Arc::new(trusting(&paths)), &[]).is_err());
}

/// The `verify=` value of the `STARTTLS=server` line for each kind of client, over
/// real handshakes: OK (chain verifies), FAIL (presented, not verified), NO
/// (requested, none sent), NOT (not requested).
#[test]
fn client_verify_values_follow_sendmail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = self_signed(dir.path());
    let identity = client_identity();
    let mut roots = RootCertStore::empty();
    roots.add(identity.ca.clone()).expect("root");
    let roots = Arc::new(roots);
    let other_roots = Arc::new(trusting(&paths));

    let verify_with = |request: Option<&Arc<RootCertStore>>, present: bool| {
        let asking = match request {
            Some(roots) => ClientCertRequest::Request {
                roots: roots.clone(),
            },
            None => ClientCertRequest::None,
        };
        let server = server_config(&paths, asking).expect("server config");
        let builder = client_config(trusting(&paths), &[&rustls::version::TLS13]);
        let client = if present {
            builder
                .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
                .expect("client auth")
        } else {
            builder.with_no_client_auth()
        };
        let (_client, server) = connect(server, client).expect("handshake");
        client_verify(request, server.peer_certificates())
    };

    assert_eq!(verify_with(Some(&roots), true), ClientVerify::Ok);
    assert_eq!(verify_with(Some(&other_roots), true).as_str(), "FAIL");
    assert_eq!(verify_with(Some(&roots), false), ClientVerify::No);
    assert_eq!(verify_with(None, true), ClientVerify::Not);
    assert_eq!(verify_with(None, false), ClientVerify::Not);

    let names = certificate_names(&identity.chain[0]).expect("names");
    assert_eq!(names.issuer, "/CN=Test Client CA");
}

/// One TLS 1.3 ticket per handshake (rustls sends two by default): the second record
/// cost measurably on one-message connections (bench/README.md), and a returning
/// client, which uses one ticket per connection, still resumes.
#[test]
fn one_session_ticket_is_sent_and_a_returning_client_resumes_with_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = self_signed(dir.path());
    let server = server_config(&paths, ClientCertRequest::None).expect("server config");
    assert_eq!(server.send_tls13_tickets, 1);
    let client =
        Arc::new(client_config(trusting(&paths), &[&rustls::version::TLS13]).with_no_client_auth());
    let name = ServerName::try_from(HOST).expect("name");
    for expected in [rustls::HandshakeKind::Full, rustls::HandshakeKind::Resumed] {
        let mut client_side = Connection::Client(
            ClientConnection::new(Arc::clone(&client), name.clone()).expect("client"),
        );
        let mut server_side =
            Connection::Server(rustls::ServerConnection::new(Arc::clone(&server)).expect("server"));
        pump(&mut client_side, &mut server_side).expect("handshake");
        // The client takes the ticket in when it reads application data.
        server_side
            .writer()
            .write_all(b"220 ready\r\n")
            .expect("write");
        pump(&mut client_side, &mut server_side).expect("data");
        let mut greeting = String::new();
        client_side.reader().read_to_string(&mut greeting).ok();
        assert_eq!(client_side.handshake_kind(), Some(expected));
    }
}
