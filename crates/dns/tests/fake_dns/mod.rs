//! A tiny authoritative DNS server on 127.0.0.1 (UDP and TCP on the same port) for
//! tests of `HickoryResolver`.
//!
//! It answers from a table of (name, type) -> records or an error code, built with
//! hickory-proto's message types. A name in the table with no entry for the asked type
//! gets NODATA (NOERROR, no answer); a name not in the table gets NXDOMAIN. Names
//! marked [`Zone::truncate_over_udp`] get an empty truncated answer over UDP, so the
//! client must ask again over TCP. Every question is recorded as `name TYPE/PROTOCOL`,
//! so tests can see exactly what was asked and how.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// What the server says for one (name, type).
#[derive(Clone)]
pub enum Answer {
    Records(Vec<RData>),
    Code(ResponseCode),
}

#[derive(Default)]
pub struct Zone {
    entries: HashMap<(String, RecordType), Answer>,
    truncated: Vec<String>,
}

impl Zone {
    /// Over UDP, answers for `name` are sent empty with the TC (truncated) bit.
    pub fn truncate_over_udp(mut self, name: &str) -> Zone {
        self.truncated.push(name.to_ascii_lowercase());
        self
    }

    /// `name` is written without the trailing dot; lookups ignore case.
    pub fn add(mut self, name: &str, record_type: RecordType, answer: Answer) -> Zone {
        self.entries
            .insert((name.to_ascii_lowercase(), record_type), answer);
        self
    }

    fn respond(&self, name: &Name, record_type: RecordType) -> (ResponseCode, Vec<Record>) {
        let key = name.to_ascii().trim_end_matches('.').to_ascii_lowercase();
        match self.entries.get(&(key.clone(), record_type)) {
            Some(Answer::Records(data)) => {
                let records = data
                    .iter()
                    .map(|rdata| Record::from_rdata(name.clone(), 300, rdata.clone()))
                    .collect();
                (ResponseCode::NoError, records)
            }
            Some(Answer::Code(code)) => (*code, Vec::new()),
            None if self.entries.keys().any(|(known, _)| *known == key) => {
                (ResponseCode::NoError, Vec::new())
            }
            None => (ResponseCode::NXDomain, Vec::new()),
        }
    }
}

pub struct FakeDns {
    pub address: SocketAddr,
    questions: Arc<Mutex<Vec<String>>>,
}

impl FakeDns {
    /// Binds UDP and TCP on one port of 127.0.0.1 and answers from `zone` until the
    /// runtime ends.
    pub async fn start(zone: Zone) -> FakeDns {
        let (socket, listener) = bind_both().await;
        let address = socket.local_addr().unwrap();
        let questions = Arc::new(Mutex::new(Vec::new()));
        let zone = Arc::new(zone);
        tokio::spawn(serve_udp(socket, Arc::clone(&zone), Arc::clone(&questions)));
        tokio::spawn(serve_tcp(listener, zone, Arc::clone(&questions)));
        FakeDns { address, questions }
    }

    /// Every question received so far, as `name TYPE/PROTOCOL` (the name as sent, with
    /// its dot): `example.com. MX/UDP`.
    pub fn questions(&self) -> Vec<String> {
        self.questions.lock().unwrap().clone()
    }
}

/// A UDP socket on a free port and a TCP listener on the same port (retried if the TCP
/// port happens to be taken).
async fn bind_both() -> (UdpSocket, TcpListener) {
    for _ in 0..20 {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let address = socket.local_addr().unwrap();
        if let Ok(listener) = TcpListener::bind(address).await {
            return (socket, listener);
        }
    }
    panic!("no port free for both UDP and TCP");
}

async fn serve_udp(socket: UdpSocket, zone: Arc<Zone>, log: Arc<Mutex<Vec<String>>>) {
    let mut buffer = vec![0u8; 4096];
    while let Ok((length, peer)) = socket.recv_from(&mut buffer).await {
        if let Some(reply) = reply_to(&zone, &buffer[..length], &log, false) {
            let _ = socket.send_to(&reply, peer).await;
        }
    }
}

async fn serve_tcp(listener: TcpListener, zone: Arc<Zone>, log: Arc<Mutex<Vec<String>>>) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(serve_tcp_connection(
            stream,
            Arc::clone(&zone),
            Arc::clone(&log),
        ));
    }
}

/// RFC 1035 §4.2.2: each message is preceded by its length as two bytes.
async fn serve_tcp_connection(
    mut stream: TcpStream,
    zone: Arc<Zone>,
    log: Arc<Mutex<Vec<String>>>,
) {
    loop {
        let Ok(length) = stream.read_u16().await else {
            return;
        };
        let mut packet = vec![0u8; usize::from(length)];
        if stream.read_exact(&mut packet).await.is_err() {
            return;
        }
        let Some(reply) = reply_to(&zone, &packet, &log, true) else {
            return;
        };
        let prefix = u16::try_from(reply.len()).unwrap().to_be_bytes();
        if stream
            .write_all(&[&prefix[..], &reply].concat())
            .await
            .is_err()
        {
            return;
        }
    }
}

fn reply_to(zone: &Zone, packet: &[u8], log: &Mutex<Vec<String>>, tcp: bool) -> Option<Vec<u8>> {
    let request = Message::from_vec(packet).ok()?;
    let query = request.queries().first()?.clone();
    let protocol = if tcp { "TCP" } else { "UDP" };
    log.lock().unwrap().push(format!(
        "{} {}/{protocol}",
        query.name(),
        query.query_type()
    ));
    let key = query
        .name()
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let truncate = !tcp && zone.truncated.contains(&key);
    let (code, answers) = if truncate {
        (ResponseCode::NoError, Vec::new())
    } else {
        zone.respond(query.name(), query.query_type())
    };
    let mut response = Message::new();
    response
        .set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_authoritative(true)
        .set_recursion_desired(request.recursion_desired())
        .set_recursion_available(true)
        .set_response_code(code)
        .set_truncated(truncate)
        .add_query(query)
        .add_answers(answers);
    response.to_vec().ok()
}
