//! What the load needs on the server, made over HTTP as a client would: Alice with
//! signed device keys and cross-signing keys (what `/keys/query` serves), Bob who
//! asks about her, and Carol with no device (the to-device target, so that the
//! server's memory measures the journal and not an inbox nobody reads).

use protocol::cross_signing::CrossSigningKeys;
use protocol::device_keys::DeviceKeys;
use protocol::keys::{Curve25519PublicKey, Ed25519Keypair};
use serde_json::{json, Value};

use super::wrk::Load;

/// The accounts the server is started with (`--account`).
pub const ACCOUNTS: [&str; 3] = ["alice:alice-pw", "bob:bob-pw", "carol:carol-pw"];

/// The three requests the benchmark measures.
pub struct Loads {
    /// `GET /_matrix/client/versions`.
    pub versions: Load,
    /// `POST /keys/query` by Bob about Alice.
    pub keys_query: Load,
    /// `PUT /sendToDevice` by Bob to all of Carol's (no) devices, a new txn each time.
    pub send_to_device: Load,
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: &Value,
) -> Result<Value, String> {
    let mut request = http.request(method, &url).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| format!("{url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{url}: {status} {body}"));
    }
    Ok(body)
}

async fn login(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
) -> Result<(String, String, String), String> {
    let body = json!({
        "type": "m.login.password",
        "identifier": { "type": "m.id.user", "user": user },
        "password": password,
    });
    let answer =
        call(http, reqwest::Method::POST, format!("{base}/_matrix/client/v3/login"), None, &body).await?;
    let field = |name: &str| answer[name].as_str().map(str::to_owned).ok_or(format!("login without {name}"));
    Ok((field("user_id")?, field("device_id")?, field("access_token")?))
}

/// Logs Alice and Bob in, uploads Alice's keys, and describes the three loads.
pub async fn prepare(base: &str) -> Result<Loads, String> {
    let http = reqwest::Client::new();
    let (alice, alice_device, alice_token) = login(&http, base, "alice", "alice-pw").await?;
    let (_, _, bob_token) = login(&http, base, "bob", "bob-pw").await?;

    let cross = CrossSigningKeys::from_seeds(&[1; 32], &[2; 32], &[3; 32]);
    let device_signing = cross.device_signing_body(&alice);
    let url = format!("{base}/_matrix/client/v3/keys/device_signing/upload");
    call(&http, reqwest::Method::POST, url, Some(&alice_token), &device_signing).await?;
    let mut keys = DeviceKeys::signed_json(
        &alice,
        &alice_device,
        &["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        &Ed25519Keypair::from_seed(&[4; 32]),
        &Curve25519PublicKey::from_bytes([5; 32]),
    );
    cross.sign_device(&alice, &mut keys).map_err(|e| e.to_string())?;
    let url = format!("{base}/_matrix/client/v3/keys/upload");
    call(&http, reqwest::Method::POST, url, Some(&alice_token), &json!({ "device_keys": keys })).await?;

    // Check that the query answers what the load will ask for: a signed device.
    let query = json!({ "device_keys": { alice.clone(): [] } });
    let url = format!("{base}/_matrix/client/v3/keys/query");
    let answer = call(&http, reqwest::Method::POST, url, Some(&bob_token), &query).await?;
    if answer["device_keys"][&alice][&alice_device]["signatures"].as_object().map_or(0, |s| s.len()) == 0
        || answer["master_keys"][&alice].is_null()
    {
        return Err(format!("keys/query does not serve Alice's signed keys: {answer}"));
    }

    let auth = vec![
        ("Authorization".to_owned(), format!("Bearer {bob_token}")),
        ("Content-Type".to_owned(), "application/json".to_owned()),
    ];
    let carol = alice.replacen("@alice:", "@carol:", 1);
    let message = json!({ "messages": { carol: { "*": { "algorithm": "m.olm.v1.curve25519-aes-sha2", "ciphertext": { "x": { "type": 0, "body": "AwogbG9hZA" } } } } } });
    Ok(Loads {
        versions: Load {
            name: "versions",
            method: "GET",
            path: "/_matrix/client/versions".into(),
            headers: Vec::new(),
            body: String::new(),
        },
        keys_query: Load {
            name: "keys/query",
            method: "POST",
            path: "/_matrix/client/v3/keys/query".into(),
            headers: auth.clone(),
            body: query.to_string(),
        },
        send_to_device: Load {
            name: "sendToDevice",
            method: "PUT",
            path: "/_matrix/client/v3/sendToDevice/m.room.encrypted/{txn}".into(),
            headers: auth,
            body: message.to_string(),
        },
    })
}
