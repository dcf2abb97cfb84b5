//! One handler per awaited reply, run in the order the commands were sent.
//!
//! A handler returns `Err` when the reply ends the session; `handle_reply` then records
//! the failure with the phase of the command that was answered.

use super::{Awaited, Capabilities, ClientSession, Event, FailureReason, InFlight, State};
use crate::Reply;

/// Why a reply ends the session, and the reply that did it (if any).
type Handled = Result<(), (FailureReason, Option<Reply>)>;

/// A reply code that makes no sense for the command it answers.
fn unexpected(command: &str, reply: Reply) -> Handled {
    let reason =
        FailureReason::ProtocolError(format!("unexpected reply {} to {command}", reply.code));
    Err((reason, Some(reply)))
}

impl ClientSession {
    pub(super) fn handle_reply(&mut self, reply: Reply) {
        let Some(awaited) = self.awaiting.pop_front() else {
            let reason = FailureReason::ProtocolError("reply without a command".to_owned());
            return self.fail_now(reason, Some(reply));
        };
        // RFC 5321 §3.8: 421 may answer any command; a 421 greeting is a refusal.
        let handled = if reply.code == 421 && !matches!(awaited, Awaited::Greeting | Awaited::Quit)
        {
            Err((FailureReason::ServiceClosing, Some(reply)))
        } else {
            self.dispatch(awaited, reply)
        };
        if let Err((reason, reply)) = handled {
            self.fail(awaited.phase(), reason, reply);
        }
    }

    fn dispatch(&mut self, awaited: Awaited, reply: Reply) -> Handled {
        match awaited {
            Awaited::Greeting => self.on_greeting(reply),
            Awaited::Ehlo => self.on_ehlo(reply),
            Awaited::Helo => self.on_helo(reply),
            Awaited::StartTls => {
                self.on_starttls(reply);
                Ok(())
            }
            Awaited::Rset => self.on_rset(reply),
            Awaited::Mail => self.on_mail(reply),
            Awaited::Rcpt(index) => self.on_rcpt(index, reply),
            Awaited::Data => self.on_data(reply),
            Awaited::DataEnd => self.on_data_end(reply),
            Awaited::Quit => {
                self.state = State::Closed;
                Ok(())
            }
        }
    }

    fn on_greeting(&mut self, reply: Reply) -> Handled {
        match reply.code {
            220 => {
                self.greeting = Some(reply);
                self.send_hello(Awaited::Ehlo);
                Ok(())
            }
            400..=599 => self.refused(FailureReason::GreetingRefused, reply),
            _ => unexpected("the greeting", reply),
        }
    }

    /// RFC 5321 §3.2: a server that does not know EHLO answers 5xx; fall back to HELO.
    fn on_ehlo(&mut self, reply: Reply) -> Handled {
        match reply.code / 100 {
            2 => {
                let greeting = self
                    .greeting
                    .clone()
                    .unwrap_or_else(|| Reply::plain(220, ""));
                self.capabilities = Some(Capabilities::from_ehlo(greeting, reply));
                self.state = State::Ready;
                Ok(())
            }
            5 => {
                self.send_hello(Awaited::Helo);
                Ok(())
            }
            4 => self.refused(FailureReason::HelloRefused, reply),
            _ => unexpected("EHLO", reply),
        }
    }

    fn on_helo(&mut self, reply: Reply) -> Handled {
        match reply.code / 100 {
            2 => {
                let greeting = self
                    .greeting
                    .clone()
                    .unwrap_or_else(|| Reply::plain(220, ""));
                self.capabilities = Some(Capabilities::from_helo(greeting, reply));
                self.state = State::Ready;
                Ok(())
            }
            4 | 5 => self.refused(FailureReason::HelloRefused, reply),
            _ => unexpected("HELO", reply),
        }
    }

    /// The server will not talk to us: say QUIT (RFC 5321 §3.1) and give up.
    fn refused(&mut self, reason: FailureReason, reply: Reply) -> Handled {
        self.output.extend_from_slice(b"QUIT\r\n");
        Err((reason, Some(reply)))
    }

    fn on_starttls(&mut self, reply: Reply) {
        if reply.code == 220 {
            self.state = State::ExpectTlsHandshake;
        } else {
            self.event = Some(Event::TlsRefused(reply));
            self.state = State::Ready;
        }
    }

    fn on_rset(&mut self, reply: Reply) -> Handled {
        if reply.code / 100 != 2 {
            return unexpected("RSET", reply);
        }
        self.needs_rset = false;
        match self.transaction.take() {
            Some(flight) => self.begin_transaction(flight),
            None => self.state = State::Ready,
        }
        Ok(())
    }

    pub(super) fn send_hello(&mut self, awaited: Awaited) {
        let verb = if awaited == Awaited::Helo {
            "HELO"
        } else {
            "EHLO"
        };
        let line = format!("{verb} {}\r\n", self.config.ehlo_name);
        self.send(&line, awaited);
    }

    /// MAIL, and with PIPELINING every RCPT and DATA too, in one output batch.
    pub(super) fn begin_transaction(&mut self, flight: InFlight) {
        self.send(&flight.mail_line, Awaited::Mail);
        if flight.pipelined {
            for (index, line) in flight.rcpt_lines.iter().enumerate() {
                self.send(line, Awaited::Rcpt(index));
            }
            self.send("DATA\r\n", Awaited::Data);
        }
        self.transaction = Some(flight);
    }

    fn on_mail(&mut self, reply: Reply) -> Handled {
        if !matches!(reply.code / 100, 2 | 4 | 5) {
            return unexpected("MAIL", reply);
        }
        let accepted = reply.code / 100 == 2;
        let Some(flight) = self.transaction.as_mut() else {
            return unexpected("MAIL", reply);
        };
        flight.mail = Some(reply);
        if flight.pipelined {
            // The RCPT and DATA replies (503s, if MAIL failed) are still to come.
            self.needs_rset |= !accepted;
            return Ok(());
        }
        if accepted {
            self.send_rcpt(0);
            return Ok(());
        }
        self.needs_rset = true;
        self.finish_transaction(None)
    }

    fn on_rcpt(&mut self, index: usize, reply: Reply) -> Handled {
        if !matches!(reply.code / 100, 2 | 4 | 5) {
            return unexpected("RCPT", reply);
        }
        let Some(flight) = self.transaction.as_mut() else {
            return unexpected("RCPT", reply);
        };
        if let Some(slot) = flight.recipients.get_mut(index) {
            *slot = Some(reply);
        }
        if flight.pipelined || self.send_rcpt(index + 1) {
            return Ok(());
        }
        if self
            .transaction
            .as_ref()
            .is_some_and(InFlight::has_accepted_recipient)
        {
            self.send("DATA\r\n", Awaited::Data);
            return Ok(());
        }
        self.needs_rset = true;
        self.finish_transaction(None)
    }

    /// Sends the RCPT for recipient `index`; false when there is none.
    fn send_rcpt(&mut self, index: usize) -> bool {
        let line = self
            .transaction
            .as_ref()
            .and_then(|flight| flight.rcpt_lines.get(index))
            .cloned();
        match line {
            Some(line) => {
                self.send(&line, Awaited::Rcpt(index));
                true
            }
            None => false,
        }
    }

    fn on_data(&mut self, reply: Reply) -> Handled {
        let intermediate = reply.code == 354;
        if !intermediate && !matches!(reply.code / 100, 4 | 5) {
            return unexpected("DATA", reply);
        }
        let Some(flight) = self.transaction.as_mut() else {
            return unexpected("DATA", reply);
        };
        flight.data = Some(reply);
        if !intermediate {
            self.needs_rset = true;
            return self.finish_transaction(None);
        }
        if flight.has_accepted_recipient() {
            self.state = State::ExpectBody;
        } else {
            // RFC 2920 §3.1: a pipelined DATA may get 354 with no recipient; send nothing.
            self.send(".\r\n", Awaited::DataEnd);
        }
        Ok(())
    }

    fn on_data_end(&mut self, reply: Reply) -> Handled {
        if !matches!(reply.code / 100, 2 | 4 | 5) {
            return unexpected("the end of data", reply);
        }
        self.needs_rset = false;
        self.finish_transaction(Some(reply))
    }

    /// Reports the transaction's result and goes back to Ready.
    fn finish_transaction(&mut self, final_reply: Option<Reply>) -> Handled {
        let result = self
            .transaction
            .take()
            .and_then(|flight| flight.into_result(final_reply));
        let Some(result) = result else {
            let reason =
                FailureReason::ProtocolError("transaction ended before MAIL was answered".into());
            return Err((reason, None));
        };
        self.event = Some(Event::Transaction(result));
        self.state = State::Ready;
        Ok(())
    }
}
