//! The generators: a case drawn from its seed (ChaCha8, so the same seed gives the
//! same case on every machine), with up to [`MAX_INGREDIENTS`] ingredients from three
//! families: server faults (and profile switches), the simulated peer's
//! misbehaviour, and the user's answer.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};

use devices::qr_login::mangle::Mangling;
use devices::RoleKind;

use super::case::{Case, Ingredient};

/// The most ingredients one case has.
pub const MAX_INGREDIENTS: usize = 3;

/// The user ID of the QR-login account.
const ALICE: &str = "@alice:test";
/// The user ID the registrar registers.
const RITA: &str = "@rita:test";

const RENDEZVOUS: &str = "/_matrix/client/unstable/org.matrix.msc3886/rendezvous";

/// What the new device's simulated peer (B) can be told to do wrong.
const B_KNOBS: [&str; 10] = [
    "lie-verifying-device-key",
    "lie-verifying-device-id",
    "lie-master-key",
    "omit-master-key",
    "answer-secrets-unencrypted",
    "answer-secrets-wrong-value",
    "send-unsolicited-secret",
    "sign-with-wrong-key",
    "announce-self-signing-key-as-master",
    "silent-security-abort",
];

/// What the existing device's simulated peer (A) can be told to do wrong.
const A_KNOBS: [&str; 11] = [
    "lie-device-key",
    "lie-device-id",
    "never-upload-keys",
    "invalid-self-signature",
    "cancel",
    "request-secrets-early",
    "send-messages-twice",
    "tamper-envelope",
    "android",
    "choose-unoffered-protocol",
    "silent-security-abort",
];

/// Endpoints of the QR-login flow a `respond-with-error` or `lose-write` can hit.
const QR_PATHS: [&str; 12] = [
    RENDEZVOUS,
    "/_matrix/client/unstable/org.matrix.msc3886/rendezvous/*",
    "/_matrix/client/v3/login",
    "/_matrix/client/v1/login/get_token",
    "/_matrix/client/v3/keys/query",
    "/_matrix/client/v3/keys/upload",
    "/_matrix/client/v3/keys/claim",
    "/_matrix/client/v3/keys/signatures/upload",
    "/_matrix/client/v3/sendToDevice/*",
    "/_matrix/client/v3/sync",
    "/_matrix/client/v3/room_keys/version",
    "/_matrix/client/v3/capabilities",
];

/// Endpoints of registration.
const REGISTER_PATHS: [&str; 7] = [
    "/_matrix/client/v3/register",
    "/_matrix/client/v3/keys/device_signing/upload",
    "/_matrix/client/v3/keys/query",
    "/_matrix/client/v3/keys/upload",
    "/_matrix/client/v3/keys/signatures/upload",
    "/_matrix/client/v3/login",
    "/_matrix/client/versions",
];

/// Writes a lost write may swallow.
const LOSABLE: [&str; 5] = [
    "/_matrix/client/v3/keys/upload",
    "/_matrix/client/v3/keys/signatures/upload",
    "/_matrix/client/v3/keys/device_signing/upload",
    "/_matrix/client/v3/sendToDevice/*",
    "/_matrix/client/v3/register",
];

/// Error answers: status and errcode.
const ERRORS: [(u16, &str); 7] = [
    (400, "M_BAD_JSON"),
    (403, "M_FORBIDDEN"),
    (404, "M_NOT_FOUND"),
    (412, "M_CONCURRENT_WRITE"),
    (429, "M_LIMIT_EXCEEDED"),
    (500, "M_UNKNOWN"),
    (502, "M_UNKNOWN"),
];

const TO_DEVICE_TYPES: [&str; 2] = ["m.secret.request", "m.room.encrypted"];

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.gen_range(0..items.len())]
}

fn table(value: Value) -> Ingredient {
    match value {
        Value::Object(map) => Ingredient::Fault(map),
        _ => Ingredient::Fault(Map::new()),
    }
}

/// A count of uses: once, twice, or always.
fn times(rng: &mut ChaCha8Rng) -> Value {
    match rng.gen_range(0..3) {
        0 => json!(1),
        1 => json!(2),
        _ => Value::Null,
    }
}

fn with_times(mut value: Value, rng: &mut ChaCha8Rng) -> Ingredient {
    let times = times(rng);
    if !times.is_null() {
        value["times"] = times;
    }
    table(value)
}

fn error_fault(rng: &mut ChaCha8Rng, paths: &[&str]) -> Ingredient {
    let (status, errcode) = *pick(rng, &ERRORS);
    let path = *pick(rng, paths);
    let mut fault = json!({"kind": "respond-with-error", "path": path, "status": status, "errcode": errcode});
    if path.starts_with(RENDEZVOUS) && rng.gen_bool(0.5) {
        fault["method"] = json!(*pick(rng, &["GET", "PUT", "POST"]));
    }
    with_times(fault, rng)
}

fn lose_write(rng: &mut ChaCha8Rng) -> Ingredient {
    with_times(json!({"kind": "lose-write", "path": *pick(rng, &LOSABLE)}), rng)
}

/// A server fault of the QR-login flow.
fn qr_fault(rng: &mut ChaCha8Rng) -> Ingredient {
    let device = *pick(rng, &["A", "B"]);
    match rng.gen_range(0..10) {
        0 => table(json!({
            "kind": "tamper-device-key", "user_id": ALICE, "device": device,
            "field": *pick(rng, &["ed25519", "curve25519", "signature"]),
        })),
        1 => table(json!({
            "kind": "tamper-cross-signing-key", "user_id": ALICE,
            "key": *pick(rng, &["master", "self-signing", "user-signing"]),
            "field": *pick(rng, &["ed25519", "signature"]),
        })),
        2 => {
            let mut fault = json!({"kind": "hide-device", "user_id": ALICE, "device": device});
            if rng.gen_bool(0.6) {
                fault["queries"] = json!(rng.gen_range(1..4));
            }
            table(fault)
        }
        3 => table(json!({"kind": "drop-to-device", "event_type": *pick(rng, &TO_DEVICE_TYPES)})),
        4 => table(json!({
            "kind": "delay-to-device", "event_type": *pick(rng, &TO_DEVICE_TYPES),
            "delay_ms": *pick(rng, &[500, 2_000, 10_000, 40_000]),
        })),
        5 => table(json!({"kind": "duplicate-to-device", "event_type": *pick(rng, &TO_DEVICE_TYPES)})),
        6 => table(json!({"kind": "expire-rendezvous", "after_writes": rng.gen_range(0..8)})),
        7 => lose_write(rng),
        _ => error_fault(rng, &QR_PATHS),
    }
}

/// A server fault or profile switch of registration. A server that drops the keys
/// (`msc2912 = "ignored"`, a lost write) is drawn more often than the rest: it is
/// what the registrar's own check is for.
fn register_server(rng: &mut ChaCha8Rng) -> Ingredient {
    match rng.gen_range(0..7) {
        0 => Ingredient::Switch(
            "msc2912".into(),
            json!(*pick(rng, &["ignored", "ignored", "both", "unstable-only"])),
        ),
        1 => Ingredient::Switch("advertise_msc2912".into(), json!(rng.gen_bool(0.5))),
        2 => Ingredient::Switch("msc3967".into(), json!(false)),
        3 => table(json!({
            "kind": "tamper-cross-signing-key", "user_id": RITA,
            "key": *pick(rng, &["master", "self-signing", "user-signing"]),
            "field": *pick(rng, &["ed25519", "signature"]),
        })),
        4 | 5 => with_times(json!({"kind": "lose-write", "path": *pick(rng, &LOSABLE[..3])}), rng),
        _ => error_fault(rng, &REGISTER_PATHS),
    }
}

/// A misbehaviour of the simulated peer of `role`.
fn peer(rng: &mut ChaCha8Rng, role: RoleKind) -> Ingredient {
    let (knobs, intent, setups): (&[&str], &str, &[&str]) = match role {
        RoleKind::NewDevice => (&B_KNOBS, "login.start", &["cross-signing", "backup", "e2ee"]),
        _ => (&A_KNOBS, "login.reciprocate", &["e2ee"]),
    };
    match rng.gen_range(0..10) {
        0..=3 => {
            let how = *pick(rng, &Mangling::ALL);
            let value =
                json!({"message": rng.gen_range(0..6), "how": how.name(), "field": rng.gen_range(0..4)});
            Ingredient::PeerKnob("mangle-message".into(), value)
        }
        4 => Ingredient::PeerKnob("qr-intent".into(), json!(intent)),
        5 => Ingredient::PeerSetup((*pick(rng, setups)).into(), json!(false)),
        _ => Ingredient::PeerKnob((*pick(rng, knobs)).into(), json!(true)),
    }
}

/// Whether two ingredients set the same thing (a case has each once).
fn same_slot(a: &Ingredient, b: &Ingredient) -> bool {
    match (a, b) {
        (Ingredient::Switch(x, _), Ingredient::Switch(y, _))
        | (Ingredient::PeerKnob(x, _), Ingredient::PeerKnob(y, _))
        | (Ingredient::PeerSetup(x, _), Ingredient::PeerSetup(y, _)) => x == y,
        (Ingredient::Fault(_), Ingredient::Fault(_)) => a == b,
        _ => std::mem::discriminant(a) == std::mem::discriminant(b),
    }
}

/// The case of `seed` for `role`; `own_knobs` go on the device under test.
pub fn generate(role: RoleKind, seed: u64, own_knobs: &Map<String, Value>) -> Case {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (role as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let count = match rng.gen_range(0..10) {
        0 => 0,
        1..=4 => 1,
        5..=7 => 2,
        _ => MAX_INGREDIENTS,
    };
    let profile = if role == RoleKind::Registrar {
        (*pick(&mut rng, &["default", "msc2912", "msc2912-unstable", "legacy"])).to_owned()
    } else {
        "default".to_owned()
    };
    let mut ingredients: Vec<Ingredient> = Vec::new();
    let mut attempts = 0;
    while ingredients.len() < count && attempts < 20 {
        attempts += 1;
        let next = match role {
            RoleKind::Registrar => register_server(&mut rng),
            _ => match rng.gen_range(0..20) {
                0..=8 => qr_fault(&mut rng),
                9..=15 => peer(&mut rng, role),
                16 | 17 => Ingredient::Decline,
                18 => Ingredient::DialectV2,
                _ => Ingredient::NewDeviceShowsCode,
            },
        };
        if !ingredients.iter().any(|i| same_slot(i, &next)) {
            ingredients.push(next);
        }
    }
    Case {
        seed,
        role,
        profile,
        own_knobs: own_knobs.clone(),
        ingredients,
        deadline_ms: super::case::DEADLINE_MS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_same_seed_draws_the_same_case_and_every_case_loads() {
        let none = Map::new();
        let mut kinds = BTreeSet::new();
        for role in [RoleKind::NewDevice, RoleKind::ExistingDevice, RoleKind::Registrar] {
            for seed in 0..400 {
                let case = generate(role, seed, &none);
                assert_eq!(case, generate(role, seed, &none));
                assert!(case.ingredients.len() <= MAX_INGREDIENTS);
                kinds.extend(case.ingredients.iter().map(Ingredient::kind));
                let expect = super::super::case::placeholder_expect(&case);
                if let Err(e) = case.scenario("fuzz/x", &expect) {
                    panic!("seed {seed} role {role}: {e}\n{}", case.to_toml("t", &expect));
                }
            }
        }
        for kind in ["fault:lose-write", "fault:duplicate-to-device", "peer:mangle-message:wrong-iv-length"] {
            assert!(kinds.contains(kind), "{kind} never drawn: {kinds:?}");
        }
        assert_ne!(generate(RoleKind::NewDevice, 1, &none), generate(RoleKind::NewDevice, 2, &none));
    }
}
