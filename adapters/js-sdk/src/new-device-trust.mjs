// MSC3906 v1 steps 20-23 on the new device, with js-sdk's Rust crypto.
//
// Every check runs before any trust is given (steps 20 and 21a, then 21b, 22, 23),
// as in Element Android. Two calls are not in js-sdk 34.9.0's CryptoApi, so they
// use the OlmMachine inside js-sdk's RustCrypto: trusting the own master key
// (`OwnUserIdentity.verify()`, MSC step 21b) and `requestMissingSecretsIfNeeded()`
// (step 23). Both are matrix-sdk-crypto's own operations; the requests they make
// go out through js-sdk's outgoing-request processor.

import { log } from "./protocol.mjs";
import { pollMs, sleep } from "./matrix.mjs";

const DEFAULT_SECRET_WAIT_MS = 20_000;

/**
 * Steps 20 and 21a against the homeserver: `undefined` when they pass, else the
 * reason and a detail. js-sdk's crypto makes a fresh `/keys/query` of our own user
 * first (`userHasCrossSigningKeys` does one for the own user), so its view of the
 * devices and of the cross-signing identity is the homeserver's current one.
 */
export async function checkVerifyingDevice(client, message) {
    const crypto = client.getCrypto();
    const userId = client.getSafeUserId();
    const deviceId = message.verifying_device_id;
    const identityAccepted = await crypto.userHasCrossSigningKeys(userId, true);
    const served = await client.downloadKeysForUsers([userId]);

    // Step 20: the verifying device, as the homeserver lists it and as js-sdk accepted it.
    const listed = served.device_keys?.[userId]?.[deviceId];
    if (!listed) {
        return { reason: "verifying_device_unknown", detail: `the homeserver lists no device ${deviceId}` };
    }
    const listedKey = listed.keys?.[`ed25519:${deviceId}`];
    if (listedKey !== message.verifying_device_key) {
        return {
            reason: "verifying_device_key_mismatch",
            detail: `verifying_device_key ${message.verifying_device_key}, homeserver ${listedKey}`,
        };
    }
    const devices = await crypto.getUserDeviceInfo([userId]);
    const device = devices.get(userId)?.get(deviceId);
    if (!device) {
        return { reason: "invalid_device_keys", detail: `js-sdk's crypto did not accept ${deviceId}'s device keys` };
    }
    if (device.getFingerprint() !== message.verifying_device_key) {
        return { reason: "verifying_device_key_mismatch", detail: `js-sdk holds ${device.getFingerprint()} for ${deviceId}` };
    }
    log("step 20 passed: the verifying device's key matches the homeserver's");

    // Step 21a: the master key, when B sent one.
    if (message.master_key !== undefined) {
        const master = served.master_keys?.[userId];
        if (!master) {
            return { reason: "master_key_missing_on_homeserver", detail: "B sent master_key; the homeserver has none" };
        }
        const values = Object.values(master.keys ?? {});
        if (values.length !== 1 || values[0] !== message.master_key) {
            return { reason: "master_key_mismatch", detail: `master_key ${message.master_key}, homeserver ${values.join(",")}` };
        }
        if (!identityAccepted) {
            return {
                reason: "invalid_cross_signing_key",
                detail: "js-sdk's crypto rejected the homeserver's cross-signing keys (a signature does not verify)",
            };
        }
        log("step 21a passed: master_key matches the homeserver's");
    }
    return undefined;
}

/**
 * Steps 21b, 22 and 23. Returns the secrets to wait for: the cross-signing keys
 * when B sent a master key, the backup key when the homeserver has a backup.
 */
export async function trustAndRequestSecrets(client, message) {
    const crypto = client.getCrypto();
    const olmMachine = crypto.olmMachine;
    const userId = client.getSafeUserId();
    const expected = [];
    if (message.master_key !== undefined) {
        const { UserId } = await import("@matrix-org/matrix-sdk-crypto-wasm");
        const identity = await olmMachine.getIdentity(new UserId(userId));
        const request = await identity.verify();
        await crypto.outgoingRequestProcessor.makeOutgoingRequest(request);
        identity.free();
        log("step 21b: master key trusted");
        expected.push("m.cross_signing.master", "m.cross_signing.self_signing", "m.cross_signing.user_signing");
    }
    await crypto.setDeviceVerified(userId, message.verifying_device_id, true);
    log("step 22: verifying device marked verified");
    const backup = await crypto.checkKeyBackupAndEnable();
    if (backup?.backupInfo) expected.push("m.megolm_backup.v1");
    const requested = await olmMachine.requestMissingSecretsIfNeeded();
    await crypto.outgoingRequestsManager.doProcessOutgoingRequests();
    log("step 23: secrets requested:", requested);
    return expected;
}

/** Waits (bounded) until every expected secret is held; returns those still missing. */
export async function waitForSecrets(client, expected, waitMs) {
    const crypto = client.getCrypto();
    const deadline = Date.now() + (waitMs ?? DEFAULT_SECRET_WAIT_MS);
    const pause = pollMs() ?? 250;
    for (;;) {
        const held = await heldSecrets(crypto);
        const missing = expected.filter((name) => !held.has(name));
        if (missing.length === 0 || Date.now() >= deadline) return missing;
        await sleep(pause);
    }
}

async function heldSecrets(crypto) {
    const held = new Set();
    const status = await crypto.getCrossSigningStatus();
    const cached = status.privateKeysCachedLocally;
    if (cached.masterKey) held.add("m.cross_signing.master");
    if (cached.selfSigningKey) held.add("m.cross_signing.self_signing");
    if (cached.userSigningKey) held.add("m.cross_signing.user_signing");
    if (await crypto.getSessionBackupPrivateKey()) held.add("m.megolm_backup.v1");
    return held;
}
