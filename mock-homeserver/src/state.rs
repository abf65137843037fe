//! Everything the server remembers between requests.

use std::collections::{BTreeMap, HashMap};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde_json::Value;

use crate::fault::ActiveFault;
use crate::request::Caller;
use crate::transactions::Transactions;
use crate::Profile;

/// A device of a user.
#[derive(Debug, Clone, Default)]
pub(crate) struct Device {
    pub device_id: String,
    pub display_name: Option<String>,
    /// The uploaded device keys, with cross-signing signatures merged in.
    pub keys: Option<Value>,
    /// Unclaimed one-time keys by key ID (`signed_curve25519:AAAAAQ`).
    pub one_time_keys: BTreeMap<String, Value>,
    /// Fallback keys by key ID; never consumed.
    pub fallback_keys: BTreeMap<String, Value>,
    /// To-device events waiting for `/sync`: (stream position, event).
    pub inbox: Vec<(u64, Value)>,
    /// Users whose device list changed, for `device_lists.changed`: (position, user).
    pub device_list_changes: Vec<(u64, String)>,
}

/// An account.
#[derive(Debug, Clone, Default)]
pub(crate) struct User {
    pub user_id: String,
    pub password: Option<String>,
    pub devices: BTreeMap<String, Device>,
    pub master_key: Option<Value>,
    pub self_signing_key: Option<Value>,
    pub user_signing_key: Option<Value>,
    /// Key backup versions by version string: the stored `{algorithm, auth_data}` plus `etag` and `count`.
    pub backup_versions: BTreeMap<String, Value>,
}

/// A login token issued by `/login/get_token`.
#[derive(Debug, Clone)]
pub(crate) struct LoginToken {
    pub user_id: String,
    pub expires_at_ms: u64,
}

/// A user-interactive authentication session.
#[derive(Debug, Clone)]
pub(crate) struct UiaSession {
    /// `METHOD path` of the request that started it.
    pub operation: String,
    pub flows: Vec<Vec<String>>,
    pub completed: Vec<String>,
    /// The request body of the last round, without `auth` (Synapse reuses it).
    pub params: serde_json::Map<String, Value>,
}

/// An MSC3886 rendezvous session.
#[derive(Debug, Clone)]
pub(crate) struct RendezvousSession {
    pub data: Vec<u8>,
    pub content_type: String,
    pub etag: String,
    pub last_modified_ms: u64,
    pub expires_at_ms: u64,
    /// Number of writes, for unique ETags.
    pub writes: u64,
}

/// A to-device message held back by a delay fault.
#[derive(Debug, Clone)]
pub(crate) struct DelayedToDevice {
    pub deliver_at_ms: u64,
    pub user_id: String,
    pub device_id: String,
    pub event: Value,
}

/// The whole state of one server.
#[derive(Debug)]
pub(crate) struct State {
    pub profile: Profile,
    pub rng: ChaCha20Rng,
    pub users: BTreeMap<String, User>,
    pub access_tokens: HashMap<String, Caller>,
    pub login_tokens: HashMap<String, LoginToken>,
    pub uia_sessions: HashMap<String, UiaSession>,
    pub rendezvous: BTreeMap<String, RendezvousSession>,
    /// The recent `(access token, event type, txn id)` of `sendToDevice`.
    pub to_device_txns: Transactions,
    pub delayed_to_device: Vec<DelayedToDevice>,
    /// The sync stream position; every event and change takes the next one.
    pub stream_pos: u64,
    pub faults: Vec<ActiveFault>,
    /// When each device last made a journaled request (by the server clock), for the
    /// devices API's `last_seen_ts`.
    pub last_seen_ms: HashMap<Caller, u64>,
    /// Set by a handler when a long-polling `/sync` may have something new.
    pub wake: bool,
}

impl State {
    pub fn new(profile: Profile, seed: u64) -> Self {
        Self {
            profile,
            rng: ChaCha20Rng::seed_from_u64(seed),
            users: BTreeMap::new(),
            access_tokens: HashMap::new(),
            login_tokens: HashMap::new(),
            uia_sessions: HashMap::new(),
            rendezvous: BTreeMap::new(),
            to_device_txns: Transactions::default(),
            delayed_to_device: Vec::new(),
            stream_pos: 0,
            faults: Vec::new(),
            last_seen_ms: HashMap::new(),
            wake: false,
        }
    }

    /// The next sync stream position.
    pub fn next_pos(&mut self) -> u64 {
        self.stream_pos += 1;
        self.stream_pos
    }

    /// A random string of `len` characters from `[A-Za-z0-9]`, from the seeded RNG.
    pub fn random_string(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len).map(|_| ALPHABET[self.rng.gen_range(0..ALPHABET.len())] as char).collect()
    }

    /// A random upper-case device ID of 10 letters, as Synapse makes them.
    pub fn random_device_id(&mut self) -> String {
        (0..10).map(|_| (b'A' + self.rng.gen_range(0..26u8)) as char).collect()
    }

    /// The full user ID for a localpart on this server.
    pub fn user_id_for(&self, localpart: &str) -> String {
        format!("@{localpart}:{}", self.profile.server_name)
    }

    /// Creates an account (no device). Returns false if it already exists.
    pub fn create_user(&mut self, user_id: &str, password: Option<&str>) -> bool {
        if self.users.contains_key(user_id) {
            return false;
        }
        self.users.insert(
            user_id.to_owned(),
            User { user_id: user_id.to_owned(), password: password.map(str::to_owned), ..Default::default() },
        );
        true
    }

    /// Creates (or reuses) a device for an existing user and issues an access token.
    /// Returns `(device_id, access_token)`.
    pub fn login_device(
        &mut self,
        user_id: &str,
        device_id: Option<&str>,
        display_name: Option<&str>,
    ) -> (String, String) {
        let device_id = match device_id {
            Some(id) => id.to_owned(),
            None => self.random_device_id(),
        };
        let token = format!("syt_{}", self.random_string(24));
        if let Some(user) = self.users.get_mut(user_id) {
            let device = user
                .devices
                .entry(device_id.clone())
                .or_insert_with(|| Device { device_id: device_id.clone(), ..Default::default() });
            if display_name.is_some() {
                device.display_name = display_name.map(str::to_owned);
            }
        }
        self.access_tokens
            .insert(token.clone(), Caller { user_id: user_id.to_owned(), device_id: device_id.clone() });
        (device_id, token)
    }

    /// Records that `user_id`'s device list or cross-signing keys changed: every device
    /// of that user sees it in `device_lists.changed` on its next `/sync`.
    /// (The mock has no rooms, so no other user shares one with them.)
    pub fn device_list_changed(&mut self, user_id: &str) {
        let pos = self.next_pos();
        if let Some(user) = self.users.get_mut(user_id) {
            for device in user.devices.values_mut() {
                device.device_list_changes.push((pos, user_id.to_owned()));
            }
        }
        self.wake = true;
    }

    /// Puts a to-device event into one device's inbox.
    pub fn deliver_to_device(&mut self, user_id: &str, device_id: &str, event: Value) {
        let pos = self.next_pos();
        if let Some(device) = self.users.get_mut(user_id).and_then(|u| u.devices.get_mut(device_id)) {
            device.inbox.push((pos, event));
        }
        self.wake = true;
    }

    /// Records that a device made a request now.
    pub fn seen(&mut self, caller: &Caller, now_ms: u64) {
        match self.last_seen_ms.get_mut(caller) {
            Some(seen) => *seen = now_ms,
            None => {
                self.last_seen_ms.insert(caller.clone(), now_ms);
            }
        }
    }

    /// The user and device of an access token.
    pub fn caller_for_token(&self, token: &str) -> Option<Caller> {
        self.access_tokens.get(token).cloned()
    }
}
