//! Shared helpers for the HTTP integration tests: a server on a loopback port and a
//! small reqwest client.
#![allow(dead_code, missing_docs)]

use mock_homeserver::{MockHomeserver, Profile};
use serde_json::Value;

/// A running server and a client for it.
pub struct TestServer {
    pub server: MockHomeserver,
    pub http: reqwest::Client,
}

/// An account logged in on one device.
#[derive(Debug, Clone)]
pub struct Account {
    pub user_id: String,
    pub device_id: String,
    pub token: String,
    pub password: String,
}

/// A status and a JSON body (`Value::Null` when the body is empty or not JSON).
pub type Answer = (u16, Value);

impl TestServer {
    pub async fn start(profile: Profile) -> Self {
        Self::start_seeded(profile, 1).await
    }

    /// A server whose random values (tokens, IDs) come from `seed`.
    pub async fn start_seeded(profile: Profile, seed: u64) -> Self {
        let server =
            MockHomeserver::builder().profile(profile).seed(seed).start().await.expect("bind loopback");
        let http =
            reqwest::Client::builder().timeout(std::time::Duration::from_secs(20)).build().expect("client");
        Self { server, http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.server.base_url(), path)
    }

    /// An account created by the operator and logged in on a new device.
    pub fn account(&self, localpart: &str) -> Account {
        let password = format!("{localpart}-password");
        let user_id = self.server.core().create_account(localpart, &password).expect("fresh localpart");
        let (device_id, token) = self.server.core().login_account(&user_id, None).expect("login");
        Account { user_id, device_id, token, password }
    }

    /// Another device for an existing account.
    pub fn another_device(&self, account: &Account) -> Account {
        let (device_id, token) = self.server.core().login_account(&account.user_id, None).expect("login");
        Account { device_id, token, ..account.clone() }
    }

    pub async fn send(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request reaches the server");
        let status = response.status().as_u16();
        let bytes = response.bytes().await.expect("body");
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.send("GET", path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Answer {
        self.send("POST", path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> Answer {
        self.send("PUT", path, token, Some(body)).await
    }
}
