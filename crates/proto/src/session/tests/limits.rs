//! Content limits measured as the message streams (header size, hop count) and the
//! owner's verdict on a slow client, each at the limit and one past it.

use super::*;

fn owner_with(configure: impl FnOnce(&mut SessionConfig)) -> Owner {
    let mut config = SessionConfig::new("mx.test.example");
    config.max_message_size = 100_000;
    configure(&mut config);
    let mut owner = Owner::new(config);
    owner.greet();
    owner
}

/// The final reply to one DATA transaction carrying `message`.
fn data_reply(owner: &mut Owner, message: &[u8]) -> Vec<String> {
    owner.send(b"MAIL FROM:<a@a.example>\r\nRCPT TO:<b@b.example>\r\nDATA\r\n");
    codes(&owner.send(&[message, b".\r\n"].concat()))
}

/// A header section of exactly `size` octets (line endings included).
fn header_of(size: usize) -> Vec<u8> {
    let mut header = b"X-Fill: ".to_vec();
    header.resize(size - 2, b'f');
    header.extend_from_slice(b"\r\n");
    header
}

#[test]
fn header_section_at_the_limit_passes_and_one_octet_more_is_refused() {
    let mut owner = owner_with(|config| config.max_header_size = 200);
    let at_limit = [header_of(200), b"\r\nbody\r\n".to_vec()].concat();
    assert_eq!(data_reply(&mut owner, &at_limit), ["250 2.0.0"]);
    let over = [header_of(201), b"\r\nbody\r\n".to_vec()].concat();
    let transcript = owner.send(b"MAIL FROM:<a@a.example>\r\nRCPT TO:<b@b.example>\r\nDATA\r\n");
    assert_eq!(codes(&transcript), ["250 2.1.0", "250 2.1.5", "354"]);
    let refused = owner.send(&[&over[..], b".\r\n"].concat());
    assert_eq!(codes(&refused), ["552 5.3.4"]);
    assert!(refused.contains("header too large"), "{refused}");
    assert_eq!(owner.stored.len(), 1);
    assert_eq!(owner.aborted, 1);
}

#[test]
fn a_large_body_is_not_a_large_header() {
    let mut owner = owner_with(|config| config.max_header_size = 200);
    let message = [b"Subject: s\r\n\r\n".to_vec(), b"x\r\n".repeat(1000)].concat();
    assert_eq!(data_reply(&mut owner, &message), ["250 2.0.0"]);
}

fn hops(count: usize) -> Vec<u8> {
    let mut message = Vec::new();
    for hop in 0..count {
        message.extend_from_slice(format!("Received: from hop{hop}.example\r\n").as_bytes());
    }
    message.extend_from_slice(b"Subject: loop\r\n\r\nReceived: in the body\r\n");
    message
}

#[test]
fn hop_count_at_the_limit_passes_and_one_more_is_a_loop() {
    let mut owner = owner_with(|config| config.max_hops = 3);
    assert_eq!(data_reply(&mut owner, &hops(3)), ["250 2.0.0"]);
    let refused = {
        owner.send(b"MAIL FROM:<a@a.example>\r\nRCPT TO:<b@b.example>\r\nDATA\r\n");
        owner.send(&[&hops(4)[..], b".\r\n"].concat())
    };
    assert_eq!(codes(&refused), ["554 5.4.6"]);
    assert!(refused.contains("Too many hops"), "{refused}");
    assert_eq!(owner.stored.len(), 1);
}

#[test]
fn bdat_content_is_held_to_the_same_limits() {
    let mut owner = owner_with(|config| config.max_hops = 3);
    let message = hops(4);
    owner.send(b"MAIL FROM:<a@a.example>\r\nRCPT TO:<b@b.example>\r\n");
    let (first, last) = message.split_at(30);
    let mut script = format!("BDAT {}\r\n", first.len()).into_bytes();
    script.extend_from_slice(first);
    script.extend_from_slice(format!("BDAT {} LAST\r\n", last.len()).as_bytes());
    script.extend_from_slice(last);
    assert_eq!(codes(&owner.send(&script)), ["250 2.0.0", "554 5.4.6"]);
    assert!(owner.stored.is_empty());
}

#[test]
fn too_slow_in_data_says_421_and_closes_without_storing() {
    let mut owner = owner_with(|_| {});
    assert!(!owner.session.in_message());
    owner.send(b"MAIL FROM:<a@a.example>\r\nRCPT TO:<b@b.example>\r\nDATA\r\n");
    assert!(owner.session.in_message());
    owner.send(b"Subject: slow\r\n");
    owner.session.data_too_slow();
    let transcript = owner.run();
    assert_eq!(codes(&transcript), ["421 4.4.2"]);
    assert!(owner.closed);
    assert!(owner.stored.is_empty());
}
