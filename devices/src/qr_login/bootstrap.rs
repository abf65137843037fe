//! The existing device's bootstrap before the flow: password login, Olm device keys
//! and one-time keys, cross-signing keys (with password UIA when asked) and the
//! signatures that tie them to the device, and a key backup version.

use protocol::cross_signing::{CrossSigningKeys, KeyUsage};
use rand_chacha::ChaCha20Rng;
use serde_json::{json, Value};

use super::{ExistingDeviceConfig, Session};
use crate::api::{json_object, str_field, ApiError};
use crate::events::Abort;
use crate::io::{HttpRequest, HttpResult};
use crate::olm::secrets::BackupKey;
use crate::olm::DeviceCrypto;

/// How many one-time keys a device uploads.
pub const ONE_TIME_KEYS: usize = 20;

/// A signed-in device with its keys.
#[derive(Debug)]
pub struct Bootstrapped {
    /// The session.
    pub session: Session,
    /// The Olm identity (when E2EE is set up).
    pub olm: Option<DeviceCrypto>,
    /// The cross-signing keys (when set up).
    pub cross_signing: Option<CrossSigningKeys>,
    /// The backup private key (when set up).
    pub backup_key: Option<BackupKey>,
}

/// What the bootstrap wants next.
#[derive(Debug)]
pub enum BootStep {
    /// Perform this request.
    Http(HttpRequest),
    /// Finished.
    Done(Box<Bootstrapped>),
    /// Failed.
    Failed(Abort),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Login,
    UploadKeys,
    DeviceSigning { with_auth: bool },
    Signatures,
    Backup,
}

/// The bootstrap sub-machine.
#[derive(Debug)]
pub struct Bootstrap {
    config: ExistingDeviceConfig,
    stage: Stage,
    session: Option<Session>,
    olm: Option<DeviceCrypto>,
    cross_signing: Option<CrossSigningKeys>,
    backup_key: Option<BackupKey>,
}

/// The `auth` object of an `m.login.password` UIA stage.
pub fn password_auth(username: &str, password: &str, session: Option<String>) -> Value {
    let mut auth = json!({
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": username},
        "password": password,
    });
    if let Some(session) = session {
        auth["session"] = Value::String(session);
    }
    auth
}

impl Bootstrap {
    /// A bootstrap for `config`.
    pub fn new(config: &ExistingDeviceConfig) -> Self {
        Self {
            config: config.clone(),
            stage: Stage::Login,
            session: None,
            olm: None,
            cross_signing: None,
            backup_key: None,
        }
    }

    /// The first request: the password login.
    pub fn start(&mut self) -> HttpRequest {
        let body = json!({
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": self.config.username},
            "password": self.config.password,
            "device_id": self.config.device_id,
            "initial_device_display_name": "harness existing device",
        });
        HttpRequest::json("POST", format!("{}/_matrix/client/v3/login", self.base()), &body)
    }

    fn base(&self) -> String {
        self.config.homeserver.trim_end_matches('/').to_owned()
    }

    fn session(&self) -> Result<&Session, Abort> {
        self.session
            .as_ref()
            .ok_or_else(|| Abort::Homeserver { request: "login".into(), detail: "no session".into() })
    }

    /// Feeds an answer.
    pub fn on_http(&mut self, result: HttpResult, rng: &mut ChaCha20Rng) -> BootStep {
        match self.advance(result, rng) {
            Ok(Some(request)) => BootStep::Http(request),
            Ok(None) => match self.session.take() {
                Some(session) => BootStep::Done(Box::new(Bootstrapped {
                    session,
                    olm: self.olm.take(),
                    cross_signing: self.cross_signing.take(),
                    backup_key: self.backup_key.take(),
                })),
                None => BootStep::Failed(Abort::Homeserver {
                    request: "login".into(),
                    detail: "no session".into(),
                }),
            },
            Err(abort) => BootStep::Failed(abort),
        }
    }

    fn advance(&mut self, result: HttpResult, rng: &mut ChaCha20Rng) -> Result<Option<HttpRequest>, Abort> {
        match self.stage {
            Stage::Login => {
                let body = json_object(result).map_err(|e| e.into_abort("POST /login"))?;
                let field = |name: &str| str_field(&body, name).map_err(|e| e.into_abort("POST /login"));
                self.session = Some(Session {
                    base: self.base(),
                    access_token: field("access_token")?,
                    user_id: field("user_id")?,
                    device_id: field("device_id")?,
                });
                if !self.config.setup.e2ee {
                    return Ok(None);
                }
                let session = self.session()?.clone();
                let mut olm = DeviceCrypto::new(&session.user_id, &session.device_id);
                let one_time_keys = olm.one_time_keys_json(ONE_TIME_KEYS);
                let body = json!({"device_keys": olm.device_keys_json(), "one_time_keys": one_time_keys});
                self.olm = Some(olm);
                self.stage = Stage::UploadKeys;
                Ok(Some(session.send("POST", "/_matrix/client/v3/keys/upload", &body)))
            }
            Stage::UploadKeys => {
                json_object(result).map_err(|e| e.into_abort("POST /keys/upload"))?;
                if let Some(olm) = self.olm.as_mut() {
                    olm.mark_published();
                }
                if self.config.setup.cross_signing {
                    self.cross_signing = Some(CrossSigningKeys::generate(rng));
                    self.stage = Stage::DeviceSigning { with_auth: false };
                    return Ok(Some(self.device_signing_request(None)?));
                }
                self.backup_or_done(rng)
            }
            Stage::DeviceSigning { with_auth } => match json_object(result) {
                Ok(_) => {
                    self.stage = Stage::Signatures;
                    Ok(Some(self.signatures_request()?))
                }
                Err(e) if e.is_uia_challenge() && !with_auth => {
                    self.stage = Stage::DeviceSigning { with_auth: true };
                    Ok(Some(self.device_signing_request(e.uia_session())?))
                }
                Err(e) => Err(e.into_abort("POST /keys/device_signing/upload")),
            },
            Stage::Signatures => {
                let body = json_object(result).map_err(|e| e.into_abort("POST /keys/signatures/upload"))?;
                if body.get("failures").and_then(Value::as_object).is_some_and(|f| !f.is_empty()) {
                    return Err(ApiError::BadField { field: "failures".into(), expected: "empty" }
                        .into_abort("POST /keys/signatures/upload"));
                }
                self.backup_or_done(rng)
            }
            Stage::Backup => {
                let body = json_object(result).map_err(|e| e.into_abort("POST /room_keys/version"))?;
                str_field(&body, "version").map_err(|e| e.into_abort("POST /room_keys/version"))?;
                Ok(None)
            }
        }
    }

    fn device_signing_request(&self, uia_session: Option<String>) -> Result<HttpRequest, Abort> {
        let session = self.session()?;
        let keys = self.cross_signing.as_ref().ok_or_else(|| Abort::Homeserver {
            request: "device_signing".into(),
            detail: "no keys".into(),
        })?;
        let mut body = keys.device_signing_body(&session.user_id);
        if uia_session.is_some() {
            body["auth"] = password_auth(&self.config.username, &self.config.password, uia_session);
        }
        Ok(session.send("POST", "/_matrix/client/v3/keys/device_signing/upload", &body))
    }

    fn signatures_request(&self) -> Result<HttpRequest, Abort> {
        let session = self.session()?;
        let missing = || Abort::Homeserver { request: "signatures".into(), detail: "no keys".into() };
        let keys = self.cross_signing.as_ref().ok_or_else(missing)?;
        let olm = self.olm.as_ref().ok_or_else(missing)?;
        let unsignable = |e: protocol::signing::SignJsonError| Abort::Homeserver {
            request: "signatures".into(),
            detail: e.to_string(),
        };
        let mut device = olm.device_keys_json();
        keys.sign_device(&session.user_id, &mut device).map_err(unsignable)?;
        let mut master = keys.key_json(&session.user_id, KeyUsage::Master);
        olm.sign_json(&mut master).map_err(unsignable)?;
        let body = json!({&session.user_id: {
            &session.device_id: device,
            keys.public_key(KeyUsage::Master).to_base64(): master,
        }});
        Ok(session.send("POST", "/_matrix/client/v3/keys/signatures/upload", &body))
    }

    fn backup_or_done(&mut self, rng: &mut ChaCha20Rng) -> Result<Option<HttpRequest>, Abort> {
        if !self.config.setup.backup {
            return Ok(None);
        }
        let backup_key = BackupKey::generate(rng);
        let session = self.session()?;
        let master = self.cross_signing.as_ref().map(|keys| &keys.master);
        let auth_data = backup_key.auth_data(&session.user_id, master, self.olm.as_ref());
        let body = BackupKey::version_body(auth_data);
        let request = session.send("POST", "/_matrix/client/v3/room_keys/version", &body);
        self.backup_key = Some(backup_key);
        self.stage = Stage::Backup;
        Ok(Some(request))
    }
}
