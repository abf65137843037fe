//! QR login end to end against the mock homeserver: the happy paths.

mod support;

use devices::qr_login::{DialectName, SECRET_NAMES};
use devices::{Decision, DeviceEvent, Outcome};
use protocol::cross_signing::KeyUsage;
use protocol::keys::Ed25519Keypair;
use serde_json::Value;
use support::{decisions, has_decision, run, Env, Run};

/// A's secrets each derive the public key the homeserver publishes.
fn assert_secrets_match_homeserver(env: &Env, run: &Run, expect: &[&str]) {
    let user = env.user_id();
    for name in expect {
        let secret = run.a_secrets.get(*name).unwrap_or_else(|| panic!("A lacks {name}: {:?}", run.a));
        let bytes = protocol::base64::decode_array::<32>(secret).unwrap();
        if *name == "m.megolm_backup.v1" {
            let backup = env
                .server
                .journal()
                .into_iter()
                .rev()
                .find(|e| e.method == "GET" && e.path.ends_with("/room_keys/version") && e.status == 200)
                .and_then(|e| e.response.json().cloned())
                .expect("A read the backup version");
            let public = backup.pointer("/auth_data/public_key").and_then(Value::as_str).unwrap();
            assert_eq!(devices::olm::secrets::BackupKey::from_bytes(bytes).public_key_b64(), public);
        } else {
            let usage = KeyUsage::ALL.into_iter().find(|u| u.secret_name() == *name).unwrap();
            let published =
                env.server.core().cross_signing_key(&user, usage.as_str()).expect("published key");
            let (_, public) = protocol::cross_signing::public_key(&published).unwrap();
            assert_eq!(Ed25519Keypair::from_seed(&bytes).public_key(), public, "{name}");
        }
    }
}

fn assert_mutually_verified(run: &Run) {
    assert!(has_decision(
        &run.b,
        |d| matches!(d, Decision::MarkedVerified { device_id } if device_id == "AAAAAAAA")
    ));
    assert!(has_decision(
        &run.a,
        |d| matches!(d, Decision::MarkedVerified { device_id } if device_id == "BBBBBBBB")
    ));
}

async fn happy(dialect: DialectName, a_shows: bool) {
    let env = Env::default().await;
    let mut a = env.a_config();
    let mut b = env.b_config();
    a.dialect = dialect;
    b.dialect = dialect;
    a.shows_code = a_shows;
    b.shows_code = !a_shows;
    let run = run(&env, a, b, true).await;
    assert_eq!(run.outcome_a(), Some(Outcome::Verified), "A: {:#?}", run.a);
    assert_eq!(run.outcome_b(), Some(Outcome::Verified), "B: {:#?}", run.b);
    assert_mutually_verified(&run);
    assert!(has_decision(&run.b, |d| matches!(d, Decision::CrossSigned { .. })));
    assert!(has_decision(&run.a, |d| matches!(d, Decision::TrustedMasterKey { .. })));
    assert_secrets_match_homeserver(&env, &run, &SECRET_NAMES);
    // The dialect on the wire is the one announced.
    let sent_types: Vec<String> = run
        .a
        .iter()
        .filter_map(|e| match e {
            DeviceEvent::ChannelSent { message, .. } => message["type"].as_str().map(str::to_owned),
            _ => None,
        })
        .collect();
    match dialect {
        DialectName::V1 => {
            assert!(sent_types.iter().all(|t| t == "m.login.progress" || t == "m.login.finish"))
        }
        DialectName::V2 => assert!(sent_types.contains(&"m.login.success".to_owned()), "{sent_types:?}"),
    }
    // Step order on A: checks, then trust, then verify, then requests.
    let order: Vec<&'static str> = decisions(&run.a)
        .iter()
        .filter_map(|d| match d {
            Decision::CheckedDeviceKey { .. } => Some("20"),
            Decision::CheckedMasterKey { .. } => Some("21a"),
            Decision::TrustedMasterKey { .. } => Some("21b"),
            Decision::MarkedVerified { .. } => Some("22"),
            Decision::RequestedSecret { .. } => Some("23"),
            _ => None,
        })
        .collect();
    assert_eq!(order, ["20", "21a", "21b", "22", "23", "23", "23", "23"]);
}

#[tokio::test]
async fn v1_b_shows_a_scans_with_cross_signing() {
    happy(DialectName::V1, false).await;
}

#[tokio::test]
async fn v2_b_shows_a_scans_with_cross_signing() {
    happy(DialectName::V2, false).await;
}

#[tokio::test]
async fn v1_a_shows_b_scans_with_cross_signing() {
    happy(DialectName::V1, true).await;
}

#[tokio::test]
async fn v2_a_shows_b_scans_with_cross_signing() {
    happy(DialectName::V2, true).await;
}

#[tokio::test]
async fn without_cross_signing_a_gets_only_the_backup_key() {
    let env = Env::default().await;
    let mut b = env.b_config();
    b.setup.cross_signing = false;
    let run = run(&env, env.a_config(), b, true).await;
    assert_eq!(run.outcome_a(), Some(Outcome::Verified), "A: {:#?}", run.a);
    assert_eq!(run.outcome_b(), Some(Outcome::Verified), "B: {:#?}", run.b);
    assert_mutually_verified(&run);
    assert!(!has_decision(&run.a, |d| matches!(d, Decision::TrustedMasterKey { .. })));
    assert!(!has_decision(&run.b, |d| matches!(d, Decision::CrossSigned { .. })));
    assert_secrets_match_homeserver(&env, &run, &["m.megolm_backup.v1"]);
    assert_eq!(run.a_secrets.len(), 1);
}

#[tokio::test]
async fn without_e2ee_both_end_success_and_no_keys_move() {
    let env = Env::default().await;
    let mut a = env.a_config();
    a.setup.e2ee = false;
    let run = run(&env, a, env.b_config(), true).await;
    assert_eq!(run.outcome_a(), Some(Outcome::Success), "A: {:#?}", run.a);
    assert_eq!(run.outcome_b(), Some(Outcome::Success), "B: {:#?}", run.b);
    assert!(env.requests_by("AAAAAAAA", "POST", "/keys/upload").is_empty());
    assert!(env.requests_by("AAAAAAAA", "PUT", "/sendToDevice").is_empty());
    assert!(env
        .requests_by("BBBBBBBB", "POST", "/keys/signatures/upload")
        .iter()
        .all(|e| { e.request.json().is_some_and(|b| b.pointer("/@alice:test/AAAAAAAA").is_none()) }));
}
