//! QR login end to end: every abort ends in its named outcome, and the requests the
//! aborting side must not make never reach the homeserver.

mod support;

use devices::{Abort, Decision, Outcome};
use mock_homeserver::{Fault, Profile};
use support::{has_decision, run, Env};

const A: &str = "AAAAAAAA";
const B: &str = "BBBBBBBB";

fn security(reason: &Abort) -> Outcome {
    Outcome::SecurityError { reason: reason.clone() }
}

fn no_trust_effects_on_a(env: &Env, run: &support::Run) {
    assert!(env.requests_by(A, "PUT", "/sendToDevice/m.secret.request").is_empty(), "A requested a secret");
    assert!(env.requests_by(A, "POST", "/keys/signatures/upload").is_empty());
    assert!(!has_decision(&run.a, |d| matches!(
        d,
        Decision::MarkedVerified { .. }
            | Decision::TrustedMasterKey { .. }
            | Decision::RequestedSecret { .. }
    )));
}

fn b_never_signed_a(env: &Env, run: &support::Run) {
    let signed_a = env.requests_by(B, "POST", "/keys/signatures/upload").iter().any(|e| {
        e.request
            .json()
            .is_some_and(|b| b.as_object().is_some_and(|m| m.values().any(|u| u.get(A).is_some())))
    });
    assert!(!signed_a, "B uploaded a signature for A");
    assert!(!has_decision(&run.b, |d| matches!(
        d,
        Decision::MarkedVerified { .. } | Decision::CrossSigned { .. }
    )));
}

/// A aborted after M8 while B served secrets: B read A's security error on the
/// rendezvous and ended with it.
fn b_reads_the_security_error(run: &support::Run) {
    assert_eq!(run.outcome_b(), Some(security(&Abort::PeerSecurityError)), "B: {:#?}", run.b);
}

fn b_outcome_reason(run: &support::Run) -> Abort {
    match run.outcome_b() {
        Some(Outcome::SecurityError { reason }) => reason,
        other => panic!("B ended {other:?}: {:#?}", run.b),
    }
}

fn a_outcome_reason(run: &support::Run) -> Abort {
    match run.outcome_a() {
        Some(Outcome::SecurityError { reason }) => reason,
        other => panic!("A ended {other:?}: {:#?}", run.a),
    }
}

#[tokio::test]
async fn wrong_device_key_b_aborts_before_any_signature() {
    let env = Env::default().await;
    let mut a = env.a_config();
    a.knobs.lie_device_key = true;
    let run = run(&env, a, env.b_config(), true).await;
    assert!(matches!(b_outcome_reason(&run), Abort::DeviceKeyMismatch { .. }));
    b_never_signed_a(&env, &run);
    assert_eq!(run.outcome_a(), Some(security(&Abort::PeerSecurityError)));
    no_trust_effects_on_a(&env, &run);
}

#[tokio::test]
async fn invalid_self_signature_b_aborts() {
    let env = Env::default().await;
    let mut a = env.a_config();
    a.knobs.invalid_self_signature = true;
    let run = run(&env, a, env.b_config(), true).await;
    assert!(matches!(b_outcome_reason(&run), Abort::InvalidDeviceKeys { .. }));
    b_never_signed_a(&env, &run);
}

#[tokio::test]
async fn a_never_appearing_b_aborts_after_its_bounded_wait() {
    let env = Env::default().await;
    let mut a = env.a_config();
    a.knobs.never_upload_keys = true;
    let run = run(&env, a, env.b_config(), true).await;
    match b_outcome_reason(&run) {
        Abort::DeviceNotVisible { device_id, waited_ms } => {
            assert_eq!(device_id, A);
            assert!((10_000..12_000).contains(&waited_ms), "{waited_ms}");
        }
        other => panic!("{other:?}"),
    }
    b_never_signed_a(&env, &run);
}

#[tokio::test]
async fn wrong_verifying_device_key_a_aborts_before_requesting() {
    let env = Env::default().await;
    let mut b = env.b_config();
    b.knobs.lie_verifying_device_key = true;
    let run = run(&env, env.a_config(), b, true).await;
    assert!(matches!(a_outcome_reason(&run), Abort::VerifyingDeviceKeyMismatch { .. }));
    no_trust_effects_on_a(&env, &run);
    b_reads_the_security_error(&run);
}

#[tokio::test]
async fn wrong_verifying_device_id_a_aborts_before_requesting() {
    let env = Env::default().await;
    let mut b = env.b_config();
    b.knobs.lie_verifying_device_id = true;
    let run = run(&env, env.a_config(), b, true).await;
    assert!(matches!(a_outcome_reason(&run), Abort::VerifyingDeviceUnknown { .. }));
    no_trust_effects_on_a(&env, &run);
    b_reads_the_security_error(&run);
}

#[tokio::test]
async fn wrong_master_key_a_aborts() {
    let env = Env::default().await;
    let mut b = env.b_config();
    b.knobs.lie_master_key = true;
    let run = run(&env, env.a_config(), b, true).await;
    assert!(matches!(a_outcome_reason(&run), Abort::MasterKeyMismatch { .. }));
    no_trust_effects_on_a(&env, &run);
    b_reads_the_security_error(&run);
}

#[tokio::test]
async fn master_key_missing_on_the_homeserver_a_aborts() {
    let env = Env::default().await;
    let mut b = env.b_config();
    b.setup.cross_signing = false;
    b.knobs.lie_master_key = true;
    let run = run(&env, env.a_config(), b, true).await;
    assert_eq!(a_outcome_reason(&run), Abort::MasterKeyMissingOnHomeserver);
    no_trust_effects_on_a(&env, &run);
    b_reads_the_security_error(&run);
}

#[tokio::test]
async fn decline_ends_both_declined_and_no_token_is_minted() {
    let env = Env::default().await;
    let run = run(&env, env.a_config(), env.b_config(), false).await;
    assert_eq!(run.outcome_b(), Some(Outcome::Declined));
    assert_eq!(run.outcome_a(), Some(Outcome::Declined));
    assert!(env.requests_by(B, "POST", "/login/get_token").is_empty());
    assert!(env.server.journal().iter().any(|e| e.method == "DELETE" && e.path.contains("rendezvous")));
    assert!(!env.server.journal().iter().any(|e| e.method == "POST"
        && e.path.ends_with("/login")
        && e.caller.is_none()
        && e.request.json().is_some_and(|b| b["type"] == "m.login.token")));
}

#[tokio::test]
async fn unsupported_homeserver_ends_both_unsupported() {
    let profile = Profile::default()
        .with_overrides(&serde_json::json!({"login_token": {"stable": false, "r1": false, "r0": false}}))
        .unwrap();
    let env = Env::start(profile, vec![]).await;
    let run = run(&env, env.a_config(), env.b_config(), true).await;
    assert_eq!(run.outcome_b(), Some(Outcome::Unsupported), "{:#?}", run.b);
    assert_eq!(run.outcome_a(), Some(Outcome::Unsupported), "{:#?}", run.a);
    assert!(has_decision(&run.b, |d| *d == Decision::CheckedLoginTokenSupport { supported: false }));
    assert!(env.requests_by(B, "POST", "/login/get_token").is_empty());
}

#[tokio::test]
async fn incompatible_intents_end_both_incompatible() {
    let env = Env::default().await;
    let mut b = env.b_config();
    b.knobs.qr_intent = Some(protocol::qr_login::Intent::LoginStart);
    let run = run(&env, env.a_config(), b, true).await;
    assert_eq!(run.outcome_a(), Some(Outcome::IncompatibleIntent), "{:#?}", run.a);
    assert_eq!(run.outcome_b(), Some(Outcome::IncompatibleIntent), "{:#?}", run.b);
    assert!(has_decision(&run.a, |d| *d == Decision::CheckedIntents { compatible: false }));
    assert!(env.requests_by(B, "POST", "/login/get_token").is_empty());
}

#[tokio::test]
async fn tampered_envelope_ends_b_with_a_channel_error() {
    let env = Env::default().await;
    let mut a = env.a_config();
    a.knobs.tamper_envelope = true;
    let run = run(&env, a, env.b_config(), true).await;
    assert!(
        matches!(run.outcome_b(), Some(Outcome::Error { reason: Abort::Channel { .. } })),
        "{:#?}",
        run.b
    );
    assert!(env.requests_by(B, "POST", "/login/get_token").is_empty());
    assert!(run.outcome_a().is_some());
}

#[tokio::test]
async fn expired_rendezvous_ends_both_expired() {
    let env = Env::start(
        Profile::default(),
        vec![Fault::ExpireRendezvous { after_requests: 3, after_writes: None }],
    )
    .await;
    let run = run(&env, env.a_config(), env.b_config(), true).await;
    assert_eq!(run.outcome_b(), Some(Outcome::Expired), "{:#?}", run.b);
    assert_eq!(run.outcome_a(), Some(Outcome::Expired), "{:#?}", run.a);
}

#[tokio::test]
async fn cancel_by_a_ends_both_cancelled() {
    let env = Env::default().await;
    let mut a = env.a_config();
    a.knobs.cancel = true;
    let run = run(&env, a, env.b_config(), true).await;
    assert_eq!(run.outcome_a(), Some(Outcome::Cancelled));
    assert_eq!(run.outcome_b(), Some(Outcome::Cancelled), "{:#?}", run.b);
}

#[tokio::test]
async fn unsolicited_secret_is_ignored() {
    let env = Env::default().await;
    let mut b = env.b_config();
    b.knobs.send_unsolicited_secret = true;
    let run = run(&env, env.a_config(), b, true).await;
    assert!(
        has_decision(&run.a, |d| matches!(
            d,
            Decision::IgnoredSecret { reason, .. } if reason.contains("no outstanding request")
        )),
        "{:#?}",
        run.a
    );
    assert_eq!(run.outcome_a(), Some(Outcome::Verified));
}

#[tokio::test]
async fn unencrypted_secrets_are_ignored() {
    let env = Env::default().await;
    let mut a = env.a_config();
    a.timeout_ms = 20_000;
    let mut b = env.b_config();
    b.knobs.answer_secrets_unencrypted = true;
    let run = run(&env, a, b, true).await;
    assert!(has_decision(&run.a, |d| matches!(
        d,
        Decision::IgnoredSecret { reason, .. } if reason == "not Olm-encrypted"
    )));
    assert!(!has_decision(&run.a, |d| matches!(d, Decision::AcceptedSecret { .. })));
    assert!(matches!(run.outcome_a(), Some(Outcome::Error { reason: Abort::Timeout { .. } })));
}

#[tokio::test]
async fn secrets_with_wrong_values_are_ignored() {
    let env = Env::default().await;
    let mut a = env.a_config();
    a.timeout_ms = 20_000;
    let mut b = env.b_config();
    b.knobs.answer_secrets_wrong_value = true;
    let run = run(&env, a, b, true).await;
    assert!(has_decision(&run.a, |d| matches!(
        d,
        Decision::IgnoredSecret { reason, .. } if reason.contains("does not match")
    )));
    assert!(!has_decision(&run.a, |d| matches!(d, Decision::AcceptedSecret { .. })));
}

/// The knob writes every channel message twice in a row; each write carries the ETag
/// of the one before, so nothing is lost or rejected, the second copy replaces the
/// first in the single slot, and B reads each message once: the flow still completes.
#[tokio::test]
async fn messages_sent_twice_are_written_twice_and_the_flow_survives() {
    let env = Env::default().await;
    let mut a = env.a_config();
    a.knobs.send_messages_twice = true;
    let run = run(&env, a, env.b_config(), true).await;
    assert_eq!(run.outcome_a(), Some(Outcome::Verified), "A: {:#?}", run.a);
    assert_eq!(run.outcome_b(), Some(Outcome::Verified), "B: {:#?}", run.b);
    let sent = |events: &[devices::DeviceEvent]| -> Vec<serde_json::Value> {
        events
            .iter()
            .filter_map(|e| match e {
                devices::DeviceEvent::ChannelSent { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect()
    };
    let received = |events: &[devices::DeviceEvent]| {
        events.iter().filter(|e| matches!(e, devices::DeviceEvent::ChannelReceived { .. })).count()
    };
    let (a_sent, b_sent) = (sent(&run.a), sent(&run.b));
    // A's writes come in identical pairs (M4 twice, M7 twice).
    assert_eq!(a_sent.len(), 4, "{a_sent:#?}");
    assert!(a_sent.chunks(2).all(|pair| pair[0] == pair[1]), "{a_sent:#?}");
    assert_eq!(received(&run.b), a_sent.len() / 2, "B read each message once");
    // Every rendezvous write was accepted: C3, B's messages, A's messages twice.
    let puts: Vec<_> = env
        .server
        .journal()
        .into_iter()
        .filter(|e| e.method == "PUT" && e.path.contains("rendezvous"))
        .collect();
    assert_eq!(puts.len(), 1 + b_sent.len() + a_sent.len());
    assert!(puts.iter().all(|e| e.status == 202), "{:?}", puts.iter().map(|e| e.status).collect::<Vec<_>>());
}

/// Step 18b with a key that is not the self-signing key: the homeserver rejects the
/// signature, B reports the rejection (and never claims to have cross-signed), A's
/// device carries no signature by that key, and nothing else changes: A's trust in B
/// rests on steps 20-22, not on B's cross-signature.
#[tokio::test]
async fn cross_signature_by_a_wrong_key_is_rejected_and_never_claimed() {
    let env = Env::default().await;
    let mut b = env.b_config();
    b.knobs.sign_with_wrong_key = true;
    let run = run(&env, env.a_config(), b, true).await;
    let user = env.user_id();
    assert!(!has_decision(&run.b, |d| matches!(d, Decision::CrossSigned { .. })));
    assert!(
        has_decision(&run.b, |d| matches!(
            d,
            Decision::CrossSigningRejected { device_id, detail }
                if device_id == A && detail.contains("M_INVALID_SIGNATURE")
        )),
        "{:#?}",
        run.b
    );
    // The upload named A's device and a signing key that is not the published one.
    let ssk = env.server.core().cross_signing_key(&user, "self_signing").expect("B's self-signing key");
    let (_, ssk_public) = protocol::cross_signing::public_key(&ssk).unwrap();
    let ssk_id = format!("ed25519:{}", ssk_public.to_base64());
    let uploads = env.requests_by(B, "POST", "/keys/signatures/upload");
    let for_a: Vec<_> = uploads
        .iter()
        .filter_map(|e| e.request.json().and_then(|b| b.get(&user)).and_then(|u| u.get(A)).cloned())
        .collect();
    assert_eq!(for_a.len(), 1);
    let signers: Vec<String> = for_a[0]["signatures"][&user].as_object().unwrap().keys().cloned().collect();
    assert!(signers.iter().any(|k| k != &format!("ed25519:{A}")) && !signers.contains(&ssk_id));
    // The homeserver stored nothing but A's self-signature.
    let stored = env.server.core().device_keys(&user, A).expect("A's keys");
    let stored_signers: Vec<&String> = stored["signatures"][&user].as_object().unwrap().keys().collect();
    assert_eq!(stored_signers, [&format!("ed25519:{A}")]);
    // 18a still holds on B, and A's checks do not depend on 18b.
    assert!(has_decision(&run.b, |d| matches!(d, Decision::MarkedVerified { device_id } if device_id == A)));
    assert_eq!(run.outcome_a(), Some(Outcome::Verified), "A: {:#?}", run.a);
    assert_eq!(run.outcome_b(), Some(Outcome::Verified), "B: {:#?}", run.b);
}
