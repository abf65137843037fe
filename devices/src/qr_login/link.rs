//! The encrypted channel over the rendezvous, sans-I/O (docs/protocol.md §3, §4).
//!
//! The generator creates the session (C1), shows the QR code and reads the scanner's
//! key (C4); the scanner writes its key without `If-Match` (C3). Then both sides send
//! and receive encrypted messages. The role decides when (turn-taking, §1.7) and how
//! long to poll; this type only builds requests and reads answers.

use protocol::qr_login::{Intent, QrCode, ALGORITHM_V2_UNSTABLE};
use rand::{CryptoRng, RngCore};
use serde_json::Value;

use crate::events::Abort;
use crate::io::{HttpRequest, HttpResult};
use crate::rendezvous::{RendezvousClient, RendezvousError, CREATE_PATH};
use crate::secure_channel::{
    ChannelError, ChannelRole, EphemeralKeyPair, InitiatorCreateBody, IvLength, RecipientKeyBody,
    SecureChannel,
};

/// What a poll of the rendezvous produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Polled {
    /// Nothing new from the peer.
    Nothing,
    /// (Generator) the scanner's key arrived and the channel is up.
    KeyReceived,
    /// A decrypted message.
    Message(Value),
}

/// One side of the rendezvous channel.
pub struct Link {
    algorithm: String,
    own: Option<EphemeralKeyPair>,
    own_public: [u8; 32],
    peer_public: Option<[u8; 32]>,
    rz: Option<RendezvousClient>,
    channel: Option<SecureChannel>,
    role: ChannelRole,
    iv: IvLength,
    tamper_next: bool,
    mangle_next: Option<super::mangle::MangleMessage>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("role", &self.role)
            .field("uri", &self.rz.as_ref().map(RendezvousClient::uri))
            .field("established", &self.channel.is_some())
            .finish()
    }
}

fn rz_abort(error: RendezvousError) -> Abort {
    match error {
        RendezvousError::Gone => Abort::RendezvousGone,
        other => Abort::Channel { reason: other.to_string() },
    }
}

fn channel_abort(error: ChannelError) -> Abort {
    Abort::Channel { reason: error.to_string() }
}

impl Link {
    /// The generator's side: a fresh ephemeral key, no session yet.
    pub fn generator(rng: &mut (impl CryptoRng + RngCore)) -> Self {
        let own = EphemeralKeyPair::generate(rng);
        Self {
            algorithm: ALGORITHM_V2_UNSTABLE.to_owned(),
            own_public: own.public_key(),
            own: Some(own),
            peer_public: None,
            rz: None,
            channel: None,
            role: ChannelRole::Initiator,
            iv: IvLength::default(),
            tamper_next: false,
            mangle_next: None,
        }
    }

    /// The scanner's side for a parsed QR code.
    pub fn scanner(qr: &QrCode, rng: &mut (impl CryptoRng + RngCore)) -> Self {
        let own = EphemeralKeyPair::generate(rng);
        Self {
            algorithm: qr.algorithm.clone(),
            own_public: own.public_key(),
            own: Some(own),
            peer_public: Some(qr.key),
            rz: Some(RendezvousClient::join(&qr.uri)),
            channel: None,
            role: ChannelRole::Recipient,
            iv: IvLength::default(),
            tamper_next: false,
            mangle_next: None,
        }
    }

    /// Sends 16-byte IVs (Element Android) instead of 32.
    pub fn with_android_ivs(mut self) -> Self {
        self.iv = IvLength::Bytes16;
        self
    }

    /// Flips one ciphertext bit of the next message sent (misbehaviour knob).
    pub fn tamper_next_message(&mut self) {
        self.tamper_next = true;
    }

    /// Breaks the envelope of the next message sent as `mangle` says (misbehaviour
    /// knob `mangle-message`).
    pub fn mangle_next_envelope(&mut self, mangle: super::mangle::MangleMessage) {
        self.mangle_next = Some(mangle);
    }

    /// C1: the create request.
    pub fn create_request(&self, homeserver: &str) -> HttpRequest {
        let body = InitiatorCreateBody { algorithm: self.algorithm.clone() }.to_json();
        RendezvousClient::create_request(homeserver, serde_json::to_vec(&body).unwrap_or_default())
    }

    /// Reads the create answer; the session URL is then known.
    pub fn on_created(&mut self, homeserver: &str, result: HttpResult) -> Result<(), Abort> {
        let url = format!("{}{CREATE_PATH}", homeserver.trim_end_matches('/'));
        self.rz = Some(RendezvousClient::on_created(&url, result).map_err(rz_abort)?);
        Ok(())
    }

    /// The QR code of a generator (after [`Link::on_created`]).
    pub fn qr_code(&self, intent: Intent) -> QrCode {
        QrCode::deployed(
            self.own_public,
            self.rz.as_ref().map(|r| r.uri().to_owned()).unwrap_or_default(),
            intent,
        )
    }

    /// C3: the scanner's key, written without `If-Match`.
    pub fn key_request(&self) -> Option<HttpRequest> {
        let body = RecipientKeyBody { algorithm: self.algorithm.clone(), key: self.own_public }.to_json();
        Some(self.rz.as_ref()?.send_request(serde_json::to_vec(&body).unwrap_or_default()))
    }

    /// Reads the answer to C3 and derives the channel.
    pub fn on_key_sent(&mut self, result: HttpResult) -> Result<(), Abort> {
        self.rz.as_mut().ok_or(Abort::RendezvousGone)?.on_sent(result).map_err(rz_abort)?;
        let peer = self.peer_public.ok_or_else(|| Abort::Channel { reason: "no peer key".into() })?;
        self.establish(peer)
    }

    fn establish(&mut self, peer: [u8; 32]) -> Result<(), Abort> {
        let own = self.own.take().ok_or_else(|| Abort::Channel { reason: "key already used".into() })?;
        let channel =
            SecureChannel::establish(self.role, own, peer, &self.algorithm).map_err(channel_abort)?;
        self.channel = Some(channel.with_send_iv_length(self.iv));
        self.peer_public = Some(peer);
        Ok(())
    }

    /// Whether both sides' keys are known and the channel derived.
    pub fn is_established(&self) -> bool {
        self.channel.is_some()
    }

    /// The check code, once established.
    pub fn check_code(&self) -> Option<String> {
        self.channel.as_ref().map(SecureChannel::check_code)
    }

    /// A poll of the rendezvous.
    pub fn poll_request(&self) -> Option<HttpRequest> {
        self.rz.as_ref().map(RendezvousClient::receive_request)
    }

    /// Reads a poll answer: before the channel exists (generator), the scanner's key;
    /// afterwards a decrypted message.
    pub fn on_polled(&mut self, result: HttpResult) -> Result<Polled, Abort> {
        let rz = self.rz.as_mut().ok_or(Abort::RendezvousGone)?;
        let Some(body) = rz.on_received(result).map_err(rz_abort)? else {
            return Ok(Polled::Nothing);
        };
        let value: Value = serde_json::from_slice(&body)
            .map_err(|_| Abort::MalformedMessage { reason: "rendezvous body is not JSON".into() })?;
        match &self.channel {
            None => {
                let key = RecipientKeyBody::parse(&value)
                    .map_err(|e| Abort::Channel { reason: format!("scanner key body: {e}") })?;
                self.establish(key.key)?;
                Ok(Polled::KeyReceived)
            }
            Some(channel) => Ok(Polled::Message(channel.decrypt_json(&value).map_err(channel_abort)?)),
        }
    }

    /// An encrypted write of `message`.
    pub fn send_request(
        &mut self,
        message: &Value,
        rng: &mut (impl CryptoRng + RngCore),
    ) -> Result<HttpRequest, Abort> {
        let channel =
            self.channel.as_ref().ok_or_else(|| Abort::Channel { reason: "not established".into() })?;
        let mut envelope = channel.encrypt_json(message, rng).map_err(channel_abort)?;
        if std::mem::take(&mut self.tamper_next) {
            flip_ciphertext_bit(&mut envelope);
        }
        if let Some(mangle) = self.mangle_next.take() {
            mangle.envelope(&mut envelope);
        }
        let rz = self.rz.as_ref().ok_or(Abort::RendezvousGone)?;
        Ok(rz.send_request(serde_json::to_vec(&envelope).unwrap_or_default()))
    }

    /// Reads the answer to a write.
    pub fn on_sent(&mut self, result: HttpResult) -> Result<(), Abort> {
        self.rz.as_mut().ok_or(Abort::RendezvousGone)?.on_sent(result).map_err(rz_abort)
    }

    /// A `DELETE` of the session, if one is known.
    pub fn delete_request(&self) -> Option<HttpRequest> {
        self.rz.as_ref().map(RendezvousClient::delete_request)
    }
}

fn flip_ciphertext_bit(envelope: &mut Value) {
    let Some(text) = envelope.get("ciphertext").and_then(Value::as_str) else { return };
    let Ok(mut bytes) = protocol::base64::decode(text) else { return };
    if let Some(first) = bytes.first_mut() {
        *first ^= 0x01;
    }
    envelope["ciphertext"] = Value::String(protocol::base64::encode(bytes));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::HttpResponse;
    use rand::SeedableRng;

    #[test]
    fn both_sides_derive_the_same_code_and_tampering_is_detected() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let mut generator = Link::generator(&mut rng);
        let created = HttpResponse {
            status: 201,
            headers: vec![("location".into(), "http://hs/rz/1".into()), ("etag".into(), "\"0\"".into())],
            body: vec![],
        };
        generator.on_created("http://hs", Ok(created)).unwrap();
        let qr = generator.qr_code(Intent::LoginReciprocate);
        let mut scanner = Link::scanner(&qr, &mut rng);
        let put = scanner.key_request().unwrap();
        assert!(put.headers.iter().all(|(n, _)| n != "if-match"));
        let accepted =
            HttpResponse { status: 202, headers: vec![("etag".into(), "\"1\"".into())], body: vec![] };
        scanner.on_key_sent(Ok(accepted)).unwrap();
        let read = HttpResponse {
            status: 200,
            headers: vec![
                ("etag".into(), "\"1\"".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: put.body.clone().unwrap(),
        };
        assert_eq!(generator.on_polled(Ok(read)).unwrap(), Polled::KeyReceived);
        assert_eq!(generator.check_code(), scanner.check_code());

        scanner.tamper_next_message();
        let msg = serde_json::json!({"type": "m.login.progress"});
        let tampered = scanner.send_request(&msg, &mut rng).unwrap();
        let deliver = |req: &HttpRequest, etag: &str| HttpResponse {
            status: 200,
            headers: vec![("etag".into(), etag.into()), ("content-type".into(), "application/json".into())],
            body: req.body.clone().unwrap(),
        };
        assert!(matches!(generator.on_polled(Ok(deliver(&tampered, "\"2\""))), Err(Abort::Channel { .. })));
        let good = scanner.send_request(&msg, &mut rng).unwrap();
        assert_eq!(generator.on_polled(Ok(deliver(&good, "\"3\""))).unwrap(), Polled::Message(msg));
    }
}
