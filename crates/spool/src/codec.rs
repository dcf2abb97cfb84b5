//! Typed payloads of the Envelope, RecipientUpdate and BodyEnd records.
//!
//! Field order is the format: changing it means a new format version.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use posthorn_proto::{
    BodyType, Domain, ForwardPath, MailParams, Mailbox, Notify, OriginalRecipient, RcptParams, Ret,
    ReversePath,
};

use crate::envelope::{ClientInfo, Envelope, Recipient, RecipientState, RecipientStatus};
use crate::error::FieldError;
use crate::wire::{Decoder, Encoder};

/// Longest `last_reply` kept; it bounds the RecipientUpdate record size.
pub const MAX_REPLY_LEN: usize = 4096;

pub(crate) fn encode_envelope(envelope: &Envelope) -> Vec<u8> {
    let mut out = Encoder::default();
    match &envelope.sender {
        ReversePath::Null => out.u8(0),
        ReversePath::Mailbox(mailbox) => {
            out.u8(1);
            encode_mailbox(&mut out, mailbox);
        }
    }
    encode_mail_params(&mut out, &envelope.params);
    out.u32(u32::try_from(envelope.recipients.len()).unwrap_or(u32::MAX));
    for recipient in &envelope.recipients {
        encode_recipient(&mut out, recipient);
    }
    encode_client(&mut out, &envelope.client);
    out.time(envelope.received_at);
    out.into_bytes()
}

pub(crate) fn decode_envelope(payload: &[u8]) -> Result<Envelope, FieldError> {
    let mut input = Decoder::new(payload);
    let sender = match input.u8("sender")? {
        0 => ReversePath::Null,
        1 => ReversePath::Mailbox(decode_mailbox(&mut input)?),
        tag => {
            return Err(FieldError::BadTag {
                field: "sender",
                tag,
            })
        }
    };
    let params = decode_mail_params(&mut input)?;
    let count = input.u32("recipient count")?;
    // No `with_capacity(count)`: the count is untrusted, the payload is not.
    let mut recipients = Vec::new();
    for _ in 0..count {
        recipients.push(decode_recipient(&mut input)?);
    }
    let client = decode_client(&mut input)?;
    let received_at = input.time("received_at")?;
    input.finish()?;
    Ok(Envelope {
        sender,
        params,
        recipients,
        client,
        received_at,
    })
}

pub(crate) fn encode_update(index: u32, state: &RecipientState) -> Vec<u8> {
    let mut out = Encoder::default();
    out.u32(index);
    encode_state(&mut out, state);
    out.into_bytes()
}

pub(crate) fn decode_update(payload: &[u8]) -> Result<(u32, RecipientState), FieldError> {
    let mut input = Decoder::new(payload);
    let index = input.u32("recipient index")?;
    let state = decode_state(&mut input)?;
    input.finish()?;
    Ok((index, state))
}

pub(crate) fn encode_body_end(size: u64, crc: u32) -> Vec<u8> {
    let mut out = Encoder::default();
    out.u64(size);
    out.u32(crc);
    out.into_bytes()
}

pub(crate) fn decode_body_end(payload: &[u8]) -> Result<(u64, u32), FieldError> {
    let mut input = Decoder::new(payload);
    let size = input.u64("body size")?;
    let crc = input.u32("body crc")?;
    input.finish()?;
    Ok((size, crc))
}

fn encode_mailbox(out: &mut Encoder, mailbox: &Mailbox) {
    out.str(&mailbox.local_part);
    match &mailbox.domain {
        Domain::Name(name) => {
            out.u8(0);
            out.str(name);
        }
        Domain::Literal(ip) => {
            out.u8(1);
            encode_ip(out, ip);
        }
    }
}

fn decode_mailbox(input: &mut Decoder<'_>) -> Result<Mailbox, FieldError> {
    let local_part = input.str("local part")?;
    let domain = match input.u8("domain")? {
        0 => Domain::Name(input.str("domain name")?),
        1 => Domain::Literal(decode_ip(input)?),
        tag => {
            return Err(FieldError::BadTag {
                field: "domain",
                tag,
            })
        }
    };
    Ok(Mailbox { local_part, domain })
}

fn encode_ip(out: &mut Encoder, ip: &IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            out.u8(4);
            out.raw(&v4.octets());
        }
        IpAddr::V6(v6) => {
            out.u8(6);
            out.raw(&v6.octets());
        }
    }
}

fn decode_ip(input: &mut Decoder<'_>) -> Result<IpAddr, FieldError> {
    match input.u8("ip version")? {
        4 => Ok(IpAddr::V4(Ipv4Addr::from(input.ipv4("ipv4")?))),
        6 => Ok(IpAddr::V6(Ipv6Addr::from(input.ipv6("ipv6")?))),
        tag => Err(FieldError::BadTag {
            field: "ip version",
            tag,
        }),
    }
}

fn encode_mail_params(out: &mut Encoder, params: &MailParams) {
    out.option(params.size, Encoder::u64);
    out.option(params.body, |out, body| {
        out.u8(match body {
            BodyType::SevenBit => 0,
            BodyType::EightBitMime => 1,
            BodyType::BinaryMime => 2,
        })
    });
    out.bool(params.smtputf8);
    out.option(params.ret, |out, ret| {
        out.u8(match ret {
            Ret::Full => 0,
            Ret::Headers => 1,
        })
    });
    out.option(params.envid.as_deref(), Encoder::str);
    out.option(params.auth.as_deref(), Encoder::str);
}

fn decode_mail_params(input: &mut Decoder<'_>) -> Result<MailParams, FieldError> {
    let size = input.option("SIZE", |input| input.u64("SIZE"))?;
    let body = input.option("BODY", |input| match input.u8("BODY")? {
        0 => Ok(BodyType::SevenBit),
        1 => Ok(BodyType::EightBitMime),
        2 => Ok(BodyType::BinaryMime),
        tag => Err(FieldError::BadTag { field: "BODY", tag }),
    })?;
    let smtputf8 = input.bool("SMTPUTF8")?;
    let ret = input.option("RET", |input| match input.u8("RET")? {
        0 => Ok(Ret::Full),
        1 => Ok(Ret::Headers),
        tag => Err(FieldError::BadTag { field: "RET", tag }),
    })?;
    let envid = input.option("ENVID", |input| input.str("ENVID"))?;
    let auth = input.option("AUTH", |input| input.str("AUTH"))?;
    Ok(MailParams {
        size,
        body,
        smtputf8,
        ret,
        envid,
        auth,
    })
}

fn encode_recipient(out: &mut Encoder, recipient: &Recipient) {
    match &recipient.address {
        ForwardPath::Postmaster => out.u8(0),
        ForwardPath::Mailbox(mailbox) => {
            out.u8(1);
            encode_mailbox(out, mailbox);
        }
    }
    out.option(recipient.params.notify, |out, notify| {
        out.u8(notify_bits(notify))
    });
    out.option(recipient.params.orcpt.as_ref(), |out, orcpt| {
        out.str(&orcpt.addr_type);
        out.str(&orcpt.address);
    });
    encode_state(out, &recipient.state);
}

fn decode_recipient(input: &mut Decoder<'_>) -> Result<Recipient, FieldError> {
    let address = match input.u8("recipient")? {
        0 => ForwardPath::Postmaster,
        1 => ForwardPath::Mailbox(decode_mailbox(input)?),
        tag => {
            return Err(FieldError::BadTag {
                field: "recipient",
                tag,
            })
        }
    };
    let notify = input.option("NOTIFY", |input| notify_from_bits(input.u8("NOTIFY")?))?;
    let orcpt = input.option("ORCPT", |input| {
        Ok(OriginalRecipient {
            addr_type: input.str("ORCPT type")?,
            address: input.str("ORCPT address")?,
        })
    })?;
    let state = decode_state(input)?;
    Ok(Recipient {
        address,
        params: RcptParams { notify, orcpt },
        state,
    })
}

const NOTIFY_NEVER: u8 = 1;
const NOTIFY_SUCCESS: u8 = 2;
const NOTIFY_FAILURE: u8 = 4;
const NOTIFY_DELAY: u8 = 8;

fn notify_bits(notify: Notify) -> u8 {
    [
        (notify.never, NOTIFY_NEVER),
        (notify.success, NOTIFY_SUCCESS),
        (notify.failure, NOTIFY_FAILURE),
        (notify.delay, NOTIFY_DELAY),
    ]
    .iter()
    .filter(|(set, _)| *set)
    .fold(0, |bits, (_, bit)| bits | bit)
}

fn notify_from_bits(bits: u8) -> Result<Notify, FieldError> {
    if bits & !(NOTIFY_NEVER | NOTIFY_SUCCESS | NOTIFY_FAILURE | NOTIFY_DELAY) != 0 {
        return Err(FieldError::BadTag {
            field: "NOTIFY",
            tag: bits,
        });
    }
    Ok(Notify {
        never: bits & NOTIFY_NEVER != 0,
        success: bits & NOTIFY_SUCCESS != 0,
        failure: bits & NOTIFY_FAILURE != 0,
        delay: bits & NOTIFY_DELAY != 0,
    })
}

fn encode_state(out: &mut Encoder, state: &RecipientState) {
    out.u8(match state.status {
        RecipientStatus::Pending => 0,
        RecipientStatus::Deferred => 1,
        RecipientStatus::Delivered => 2,
        RecipientStatus::Failed => 3,
    });
    out.u32(state.attempts);
    out.option(state.last_reply.as_deref(), |out, reply| {
        out.str(truncate_on_char_boundary(reply, MAX_REPLY_LEN))
    });
    out.option(state.next_attempt, Encoder::time);
}

fn decode_state(input: &mut Decoder<'_>) -> Result<RecipientState, FieldError> {
    let status = match input.u8("status")? {
        0 => RecipientStatus::Pending,
        1 => RecipientStatus::Deferred,
        2 => RecipientStatus::Delivered,
        3 => RecipientStatus::Failed,
        tag => {
            return Err(FieldError::BadTag {
                field: "status",
                tag,
            })
        }
    };
    Ok(RecipientState {
        status,
        attempts: input.u32("attempts")?,
        last_reply: input.option("last reply", |input| input.str("last reply"))?,
        next_attempt: input.option("next attempt", |input| input.time("next attempt"))?,
    })
}

fn encode_client(out: &mut Encoder, client: &ClientInfo) {
    out.str(&client.helo);
    out.option(client.address.as_ref(), encode_ip);
    out.option(client.hostname.as_deref(), Encoder::str);
    out.str(&client.protocol);
    out.option(client.auth_id.as_deref(), Encoder::str);
    out.option(client.tls_version.as_deref(), Encoder::str);
}

fn decode_client(input: &mut Decoder<'_>) -> Result<ClientInfo, FieldError> {
    Ok(ClientInfo {
        helo: input.str("helo")?,
        address: input.option("client address", decode_ip)?,
        hostname: input.option("client hostname", |input| input.str("client hostname"))?,
        protocol: input.str("protocol")?,
        auth_id: input.option("auth id", |input| input.str("auth id"))?,
        tls_version: input.option("tls version", |input| input.str("tls version"))?,
    })
}

fn truncate_on_char_boundary(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let cut = (0..=max)
        .rev()
        .find(|&index| text.is_char_boundary(index))
        .unwrap_or(0);
    &text[..cut]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_replies_are_cut_on_a_char_boundary() {
        let reply = "é".repeat(MAX_REPLY_LEN); // 2 bytes each
        let state = RecipientState {
            last_reply: Some(reply),
            ..RecipientState::default()
        };
        let (_, decoded) = decode_update(&encode_update(0, &state)).expect("own encoding decodes");
        let kept = decoded.last_reply.unwrap_or_default();
        assert_eq!(kept.len(), MAX_REPLY_LEN);
        assert!(kept.chars().all(|c| c == 'é'));
    }

    #[test]
    fn every_notify_combination_round_trips_and_unknown_bits_fail() {
        for bits in 0..16u8 {
            let notify = notify_from_bits(bits).expect("known bits");
            assert_eq!(notify_bits(notify), bits);
        }
        assert!(notify_from_bits(16).is_err());
    }

    #[test]
    fn trailing_bytes_after_an_update_are_rejected() {
        let mut payload = encode_update(3, &RecipientState::default());
        payload.push(0);
        assert_eq!(decode_update(&payload), Err(FieldError::TrailingBytes(1)));
    }
}
