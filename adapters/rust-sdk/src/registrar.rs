//! The registrar (R): registers the account through UIA with matrix-sdk, then sets up
//! cross-signing the way an app on matrix-sdk does it.
//!
//! Every request is the SDK's: `MatrixAuth::register` for `/register`,
//! `Encryption::bootstrap_cross_signing_if_needed` (a `/keys/query` for the own user,
//! then `/keys/upload`, `/keys/device_signing/upload`, `/keys/signatures/upload`),
//! `Encryption::bootstrap_cross_signing` with the password when the server asks for
//! UIA, and `Encryption::request_user_identity` for the final check. matrix-sdk 0.18
//! has no MSC2912: the keys never go in `/register`, whatever the server advertises.

use std::time::Duration;

use matrix_sdk::ruma::api::client::account::register;
use matrix_sdk::ruma::api::client::uiaa::{AuthType, UiaaInfo};
use matrix_sdk::ruma::OwnedUserId;
use matrix_sdk::{Client, Error};

use crate::uia::{self, Credentials};
use crate::wire::{decision, Outcome};

/// The device's display name at registration.
const DEVICE_DISPLAY_NAME: &str = "matrix-rust-sdk conformance adapter";

/// Bound on the wait for the SDK's post-login E2EE tasks.
const E2EE_TASKS_WAIT: Duration = Duration::from_secs(20);

/// The account `setup` named.
#[derive(Debug, Clone)]
pub struct Account {
    /// The localpart to register.
    pub username: String,
    /// Its password.
    pub password: String,
    /// The server name in user IDs (for messages: the SDK takes the user ID the
    /// server answers).
    pub server_name: String,
}

/// Registers `account` and sets up cross-signing; the outcome to report.
pub async fn register_and_bootstrap(
    client: &Client,
    account: &Account,
    registration_token: Option<String>,
) -> Outcome {
    // No `/versions` of our own: the SDK fetches it before each request it sends
    // (to pick the endpoint's path), and it never reads `org.matrix.msc2912`.
    decision("no device_signing in /register: matrix-sdk 0.18 has no MSC2912");

    let user_id = match register(client, account, registration_token).await {
        Ok(user_id) => user_id,
        Err(outcome) => return outcome,
    };
    // `register` logs the client in and spawns the SDK's E2EE set-up (backups and
    // recovery listeners; no cross-signing, `auto_enable_cross_signing` is off): let
    // it finish so that its requests do not interleave with ours.
    if tokio::time::timeout(E2EE_TASKS_WAIT, client.encryption().wait_for_e2ee_initialization_tasks())
        .await
        .is_err()
    {
        return Outcome::error("timeout", "the SDK's E2EE initialisation tasks did not finish in 20 s");
    }

    if let Err(outcome) = bootstrap(client, &user_id, &account.password).await {
        return outcome;
    }
    check_own_keys(client, &user_id).await
}

/// `/register` through UIA; the registered user ID, or the outcome to report.
async fn register(
    client: &Client,
    account: &Account,
    registration_token: Option<String>,
) -> Result<OwnedUserId, Outcome> {
    let credentials = Credentials { dummy: true, registration_token, password: None };
    let mut auth = None;
    for _ in 0..uia::MAX_ROUNDS {
        let mut request = register::v3::Request::new();
        request.username = Some(account.username.clone());
        request.password = Some(account.password.clone());
        request.initial_device_display_name = Some(DEVICE_DISPLAY_NAME.to_owned());
        request.auth = auth.take();
        let error = match client.matrix_auth().register(request).await {
            Ok(response) => {
                decision(format!(
                    "registered {} (device {})",
                    response.user_id,
                    response.device_id.as_deref().map(|d| d.as_str()).unwrap_or("none")
                ));
                if response.user_id.server_name().as_str() != account.server_name {
                    tracing::warn!(user_id = %response.user_id, server_name = %account.server_name,
                        "the server name differs from setup's");
                }
                return Ok(response.user_id);
            }
            Err(error) => error,
        };
        let Some(challenge) = error.as_uiaa_response() else {
            return Err(outcome_of("POST /register", &error));
        };
        if let Some(refused) = &challenge.auth_error {
            return Err(Outcome::rejected(
                401,
                refused.kind.errcode().to_string(),
                format!("/register refused the UIA stage: {}", refused.message),
            ));
        }
        let Some((stage, answer)) = credentials.answer(challenge) else {
            return Err(no_flow("/register", challenge));
        };
        decision(format!("answering /register UIA with {}", stage.as_str()));
        auth = Some(answer);
    }
    Err(Outcome::error("homeserver", format!("/register UIA did not complete in {} rounds", uia::MAX_ROUNDS)))
}

/// Cross-signing as the SDK's documentation has an app do it: bootstrap if needed,
/// and on a UIA challenge bootstrap again with the password in that session.
async fn bootstrap(client: &Client, user_id: &OwnedUserId, password: &str) -> Result<(), Outcome> {
    let encryption = client.encryption();
    let first = match encryption.bootstrap_cross_signing_if_needed(None).await {
        Ok(()) => {
            decision("uploaded cross-signing keys without uia");
            return Ok(());
        }
        Err(error) => error,
    };
    let Some(challenge) = first.as_uiaa_response() else {
        return Err(outcome_of("cross-signing bootstrap", &first));
    };
    let credentials =
        Credentials { password: Some((user_id.to_string(), password.to_owned())), ..Default::default() };
    let mut challenge: UiaaInfo = challenge.clone();
    for _ in 0..uia::MAX_ROUNDS {
        let Some((stage, answer)) = credentials.answer(&challenge) else {
            return Err(no_flow("/keys/device_signing/upload", &challenge));
        };
        decision(format!("answering /keys/device_signing/upload UIA with {}", stage.as_str()));
        let error = match encryption.bootstrap_cross_signing(Some(answer)).await {
            Ok(()) => {
                if stage == AuthType::Password {
                    decision("re-uploaded keys with password");
                }
                return Ok(());
            }
            Err(error) => error,
        };
        let Some(next) = error.as_uiaa_response() else {
            return Err(outcome_of("cross-signing bootstrap", &error));
        };
        if let Some(refused) = &next.auth_error {
            return Err(Outcome::rejected(
                401,
                refused.kind.errcode().to_string(),
                format!("/keys/device_signing/upload refused the {}: {}", stage.as_str(), refused.message),
            ));
        }
        challenge = next.clone();
    }
    Err(Outcome::error(
        "homeserver",
        format!("/keys/device_signing/upload UIA did not complete in {} rounds", uia::MAX_ROUNDS),
    ))
}

/// A fresh `/keys/query` through the SDK, then what its crypto store concluded: the
/// SDK drops its private cross-signing keys when the server's public ones differ,
/// trusts its own identity when they match, and keeps the server's copy of the own
/// device, so the device counts as signed only if the server has the signature.
async fn check_own_keys(client: &Client, user_id: &OwnedUserId) -> Outcome {
    let encryption = client.encryption();
    let identity = match encryption.request_user_identity(user_id).await {
        Ok(identity) => identity,
        Err(error) => return outcome_of("POST /keys/query", &error),
    };
    let private_keys = encryption.cross_signing_status().await.is_some_and(|s| s.is_complete());
    let keys_match = private_keys && identity.as_ref().is_some_and(|i| i.is_verified());
    if !keys_match {
        decision("checked own keys: missing or different");
        return Outcome::error(
            "homeserver",
            format!(
                "after the bootstrap the server's cross-signing keys for {user_id} are {} (private keys held: {private_keys})",
                if identity.is_some() { "not the ones uploaded" } else { "missing" }
            ),
        );
    }
    decision("checked own keys: matched");
    let signed = match encryption.get_own_device().await {
        Ok(Some(device)) => device.is_cross_signed_by_owner(),
        Ok(None) => false,
        Err(error) => return Outcome::error("homeserver", format!("reading the own device: {error}")),
    };
    if !signed {
        return Outcome::error(
            "homeserver",
            "the server does not list this device signed by the self-signing key after /keys/signatures/upload",
        );
    }
    decision("signed own device");
    Outcome::success(format!("{user_id} registered; cross-signing set up by matrix-sdk, device signed"))
}

/// The outcome for an SDK error: `rejected` for a Matrix error, else `error`.
fn outcome_of(what: &str, error: &Error) -> Outcome {
    if let Some(api) = error.as_client_api_error() {
        let errcode =
            api.error_kind().map(|k| k.errcode().to_string()).unwrap_or_else(|| "M_UNKNOWN".to_owned());
        return Outcome::rejected(api.status_code.as_u16(), errcode, format!("{what}: {error}"));
    }
    Outcome::error("homeserver", format!("{what}: {error}"))
}

/// The outcome when no UIA flow can be completed with what the registrar has.
fn no_flow(endpoint: &str, challenge: &UiaaInfo) -> Outcome {
    Outcome::unsupported(format!(
        "{endpoint}: no UIA flow this registrar can complete; the server offers {}",
        uia::describe_flows(challenge)
    ))
}
