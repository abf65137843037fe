//! The rendezvous and the secure channel as both roles set them up (docs/protocol.md §1.1
//! C1–C4): whichever device shows the code creates the rendezvous (the generator),
//! the other scans the code and writes its key (the scanner). A and B differ only in
//! the QR intent and in how A's knobs adjust the link, so they pass those in.

use protocol::qr_login::{Dialect, Intent, NameStrictness, QrCode};

use super::link::Link;
use super::Flow;
use crate::events::{Abort, DeviceEvent};
use crate::io::{HttpRequest, HttpResult, Step};

impl Flow {
    /// Generator, C1: a fresh link (as `adjust` makes it) and its create request.
    pub fn create_rendezvous(&mut self, homeserver: &str, adjust: impl FnOnce(Link) -> Link) -> HttpRequest {
        let link = adjust(Link::generator(&mut self.rng));
        let request = link.create_request(homeserver);
        self.link = Some(link);
        request
    }

    /// Generator, C1 answered: reports the QR code with `intent`. `Err(step)`: the
    /// rendezvous could not be created, perform the end.
    pub fn show_code(&mut self, homeserver: &str, result: HttpResult, intent: Intent) -> Result<(), Step> {
        let created = match self.link.as_mut() {
            Some(link) => link.on_created(homeserver, result),
            None => Err(Abort::RendezvousGone),
        };
        if let Err(reason) = created {
            return Err(self.fail(reason));
        }
        if let Some(mut qr) = self.link.as_ref().map(|l| l.qr_code(intent)) {
            if self.dialect == Dialect::V2 {
                qr = qr.with_v2_flow();
            }
            self.events.push(DeviceEvent::ShowsQrCode { payload: qr.to_json_string() });
        }
        Ok(())
    }

    /// Scanner: joins the rendezvous of the scanned `text` with a link (as `adjust`
    /// makes it), and keeps the code in [`Flow::qr`]. `Ok(step)`: the key write (C3)
    /// to perform, or the end when the code names no rendezvous; `Err(step)`: the code
    /// does not parse, perform the end.
    pub fn join(&mut self, text: &str, adjust: impl FnOnce(Link) -> Link) -> Result<Step, Step> {
        match QrCode::parse(text, NameStrictness::AcceptStable) {
            Ok(qr) => {
                self.dialect = qr.dialect();
                let link = adjust(Link::scanner(&qr, &mut self.rng));
                let request = link.key_request();
                self.link = Some(link);
                self.qr = Some(qr);
                Ok(match request {
                    Some(request) => Step::Http(request),
                    None => self.fail(Abort::RendezvousGone),
                })
            }
            Err(e) => Err(self.fail(Abort::MalformedMessage { reason: format!("QR code: {e}") })),
        }
    }

    /// Scanner, C3 answered: the channel is up, its check code reported. `Err(step)`:
    /// the key write failed, perform the end.
    pub fn key_sent(&mut self, result: HttpResult) -> Result<(), Step> {
        let sent = match self.link.as_mut() {
            Some(link) => link.on_key_sent(result),
            None => Err(Abort::RendezvousGone),
        };
        if let Err(reason) = sent {
            return Err(self.fail(reason));
        }
        self.show_check_code();
        Ok(())
    }

    /// Reports the channel's check code, once the channel has one.
    pub fn show_check_code(&mut self) {
        if let Some(code) = self.link.as_ref().and_then(|l| l.check_code()) {
            self.events.push(DeviceEvent::ShowsCheckCode { code });
        }
    }

    /// Waits up to `timeout_ms` from `now` for the next channel message: the first poll.
    pub fn wait(&mut self, now: u64, timeout_ms: u64, what: &str) -> Step {
        self.deadline = now.saturating_add(timeout_ms);
        self.poll(now, what)
    }
}
