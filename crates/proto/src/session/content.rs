//! Receiving message content: DATA lines or BDAT chunks, size accounting, and the end of
//! a message (commit, discard or refusal).

use super::headers::HeaderCounter;
use super::{replies, Request, ServerSession, SessionConfig, State};
use crate::framing::{DataReceiver, LineEndingNormalizer};
use crate::Reply;

/// How the content of the current message arrives.
#[derive(Debug)]
pub(super) enum Receiving {
    /// DATA: lines until CRLF.CRLF.
    Data(DataReceiver),
    /// One BDAT chunk of `size` octets. With `failure`, the octets are read and dropped
    /// (RFC 3030 §2: the chunk is consumed even when the command fails) and the failure is
    /// the reply.
    Chunk {
        size: u64,
        remaining: u64,
        last: bool,
        failure: Option<Reply>,
    },
}

/// The message being received.
#[derive(Debug)]
pub(super) struct Content {
    pub(super) size: u64,
    /// The owner opened storage (so a refusal must abort it).
    pub(super) storing: bool,
    /// Body bytes go to storage (false: discarded transaction).
    pub(super) keep: bool,
    pub(super) too_big: bool,
    /// BDAT line-ending normalisation; `None` for DATA and for BODY=BINARYMIME.
    pub(super) normalizer: Option<LineEndingNormalizer>,
    /// Header section size and hop count.
    headers: HeaderCounter,
}

impl Content {
    pub(super) fn new(keep: bool, normalizer: Option<LineEndingNormalizer>) -> Self {
        Content {
            size: 0,
            storing: false,
            keep,
            too_big: false,
            normalizer,
            headers: HeaderCounter::default(),
        }
    }

    /// Why the complete content must be refused, if it must: size first, then line
    /// length, header size and hop count.
    fn refusal(&self, config: &SessionConfig, long_line: bool) -> Option<Reply> {
        if self.too_big {
            Some(replies::message_too_big())
        } else if long_line {
            Some(replies::line_too_long_in_data(config.max_text_line))
        } else if self.headers.size() > config.max_header_size {
            Some(replies::header_too_large())
        } else if self.headers.received() > config.max_hops {
            Some(replies::too_many_hops(
                self.headers.received(),
                config.max_hops,
            ))
        } else {
            None
        }
    }

    /// Counts the body bytes appended since `before`; drops them when they are not kept
    /// or the message is over the size limit.
    fn account(&mut self, body: &mut Vec<u8>, before: usize, max_size: u64) {
        let added = body.len().saturating_sub(before) as u64;
        if let Some(new) = body.get(before..) {
            self.headers.feed(new);
        }
        self.size = self.size.saturating_add(added);
        if self.size > max_size {
            self.too_big = true;
        }
        if self.too_big || !self.keep {
            body.truncate(before);
        }
    }
}

impl ServerSession {
    /// The client sent message content too slowly (below the minimum rate, or past the
    /// deadline for the whole message): `421 4.4.2` and close; nothing is stored.
    pub fn data_too_slow(&mut self) {
        let reply = replies::data_too_slow(&self.config.hostname);
        self.reply(&reply);
        self.close();
    }

    /// A message's content is being received: from DATA or the first BDAT until the
    /// transaction ends (the owner's rate and deadline apply).
    pub fn in_message(&self) -> bool {
        self.content.is_some()
    }

    /// Consumes buffered content input; false when nothing could be done.
    pub(super) fn step_content(&mut self) -> bool {
        let State::Receiving(receiving) = &mut self.state else {
            return false;
        };
        let available = &self.input[self.input_start..];
        let before = self.body.len();
        let max_size = self.config.max_message_size;
        match receiving {
            Receiving::Data(receiver) => {
                if available.is_empty() {
                    return false;
                }
                let progress = receiver.feed(available, &mut self.body);
                self.input_start += progress.consumed;
                if let Some(content) = self.content.as_mut() {
                    content.account(&mut self.body, before, max_size);
                }
                if progress.done {
                    let long_line = receiver.saw_long_line();
                    self.end_data(long_line);
                }
                progress.consumed > 0 || progress.done
            }
            Receiving::Chunk {
                size,
                remaining,
                last,
                failure,
            } => {
                let take = (*remaining).min(available.len() as u64) as usize;
                if take == 0 && *remaining > 0 {
                    return false;
                }
                let octets = &available[..take];
                if let (None, Some(content)) = (failure.as_ref(), self.content.as_mut()) {
                    match content.normalizer.as_mut() {
                        Some(normalizer) => normalizer.feed(octets, &mut self.body),
                        None => self.body.extend_from_slice(octets),
                    }
                    content.account(&mut self.body, before, max_size);
                }
                *remaining -= take as u64;
                self.input_start += take;
                if *remaining == 0 {
                    let (size, last, failure) = (*size, *last, failure.take());
                    self.end_chunk(size, last, failure);
                }
                true
            }
        }
    }

    /// Storage is open (or not needed): start reading the content.
    pub(super) fn enter_receiving(&mut self, receiving: Receiving) {
        if matches!(receiving, Receiving::Data(_)) {
            self.reply(&replies::start_data());
        }
        self.state = State::Receiving(receiving);
    }

    /// Storage could not be opened: refuse DATA at once; for BDAT, read the chunk first.
    pub(super) fn storage_failed(&mut self, receiving: Receiving, reply: Reply) {
        self.content = None;
        match receiving {
            Receiving::Data(_) => self.finish_transaction(&reply),
            Receiving::Chunk {
                size,
                remaining,
                last,
                ..
            } => {
                self.state = State::Receiving(Receiving::Chunk {
                    size,
                    remaining,
                    last,
                    failure: Some(reply),
                })
            }
        }
    }

    /// Replies, ends the transaction and returns to reading commands.
    pub(super) fn finish_transaction(&mut self, reply: &Reply) {
        self.reply(reply);
        self.transaction = None;
        self.content = None;
        self.state = State::ExpectCommand;
    }

    /// Ends the transaction without a reply, aborting storage if it was open.
    pub(super) fn reset_transaction(&mut self) {
        if self.content.as_ref().is_some_and(|content| content.storing) {
            self.request = Some(Request::AbortMessage);
        }
        self.transaction = None;
        self.content = None;
    }

    fn end_data(&mut self, long_line: bool) {
        let refusal = self
            .content
            .as_ref()
            .and_then(|content| content.refusal(&self.config, long_line));
        match refusal {
            Some(reply) => self.refuse_content(&reply),
            None => self.complete_message(),
        }
    }

    fn end_chunk(&mut self, size: u64, last: bool, failure: Option<Reply>) {
        if let Some(reply) = failure {
            self.reset_transaction();
            self.state = State::ExpectCommand;
            self.reply_error(&reply);
            return;
        }
        let too_big = self.content.as_ref().is_some_and(|content| content.too_big);
        let refusal = match self.content.as_ref() {
            Some(content) if too_big || last => content.refusal(&self.config, false),
            _ => None,
        };
        if let Some(reply) = refusal {
            self.refuse_content(&reply);
        } else if last {
            if let Some(normalizer) = self
                .content
                .as_mut()
                .and_then(|content| content.normalizer.as_mut())
            {
                normalizer.finish(&mut self.body);
            }
            self.complete_message();
        } else {
            self.state = State::ExpectCommand;
            self.reply(&replies::chunk_received(size));
        }
    }

    /// The whole body arrived and is acceptable: commit it, or answer for a discard.
    fn complete_message(&mut self) {
        let kept = self.content.as_ref().is_some_and(|content| content.keep);
        if kept {
            self.state = State::ExpectCommit;
            self.request = Some(Request::EndMessage);
        } else {
            self.finish_transaction(&replies::discarded());
        }
    }

    fn refuse_content(&mut self, reply: &Reply) {
        self.reset_transaction();
        self.body.clear();
        self.finish_transaction(reply);
    }
}
