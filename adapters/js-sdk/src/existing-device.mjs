// The existing device (B): js-sdk's own MSC3906Rendezvous, as Element Web drives it
// (matrix-react-sdk `LoginWithQR`): generateCode, startAfterShowingCode,
// approveLoginOnExistingDevice / declineLoginOnExistingDevice,
// verifyNewDeviceOnExistingDevice. The adapter only logs in, sets up cross-signing
// and the backup, answers UIA with the password, and reports what js-sdk concluded.

import {
    MSC3886SimpleHttpRendezvousTransport,
    MSC3903ECDHv2RendezvousChannel,
    MSC3906Rendezvous,
} from "matrix-js-sdk/lib/rendezvous/index.js";

import { FailureLog, isChannelError, outcomeOf } from "./failures.mjs";
import {
    anonymousClient,
    cryptoClient,
    passwordStage,
    rendezvousFetch,
    startAndSync,
    withUia,
} from "./matrix.mjs";
import { emit, emitOutcome, log, unimplemented } from "./protocol.mjs";

/** js-sdk's own default for step 16 (`verifyNewDeviceOnExistingDevice(timeout = 10 * 1000)`). */
const DEFAULT_DEVICE_WAIT_MS = 10_000;

/** Logs in with the password as `device_id` and prepares E2EE as `setup` asks. */
async function signIn(hs, setup) {
    const login = anonymousClient(hs, "B");
    const creds = await login.login("m.login.password", {
        identifier: { type: "m.id.user", user: setup.username },
        password: setup.password,
        device_id: setup.device_id,
        initial_device_display_name: "matrix-js-sdk 34.9.0 (conformance adapter)",
    });
    const client = await cryptoClient({
        baseUrl: hs,
        userId: creds.user_id,
        deviceId: creds.device_id,
        accessToken: creds.access_token,
        tag: "B",
    });
    await startAndSync(client);
    const crypto = client.getCrypto();
    const password = passwordStage(creds.user_id, setup.password);
    if (setup.cross_signing) {
        await crypto.bootstrapCrossSigning({
            setupNewCrossSigning: true,
            authUploadDeviceSigningKeys: (makeRequest) => withUia((auth) => makeRequest(auth ?? null), password),
        });
        const status = await crypto.getCrossSigningStatus();
        log("cross-signing set up; private keys on this device:", status.privateKeysCachedLocally);
    }
    if (setup.backup) {
        await crypto.resetKeyBackup();
        log("key backup version", await crypto.getActiveSessionBackupVersion());
    }
    return { client, password };
}

/** Plays B: `setup` has been read; the next command starts the flow. */
export async function existingDevice(hs, setup, commands) {
    const { client, password } = await signIn(hs, setup);
    const start = await commands.next();
    if (start.command === "scan_qr") {
        return unimplemented(
            "js-sdk 34.9.0's MSC3906Rendezvous only generates the QR code on the existing device; it cannot scan one",
        );
    }
    if (start.command !== "show_qr") throw new Error(`expected show_qr, got ${start.command}`);
    if (start.dialect !== "v1") {
        return unimplemented(`js-sdk 34.9.0 speaks only the v1 MSC3906 messages, not ${start.dialect}`);
    }

    const failures = new FailureLog();
    const transport = new MSC3886SimpleHttpRendezvousTransport({
        client,
        onFailure: failures.onFailure,
        fetchFn: rendezvousFetch("B rendezvous", failures.listener),
    });
    const channel = new MSC3903ECDHv2RendezvousChannel(transport, undefined, failures.onFailure);
    const rendezvous = new MSC3906Rendezvous(channel, client, failures.onFailure);
    await rendezvous.generateCode();
    emit("qr_code", { payload: rendezvous.code });

    let checksum;
    try {
        checksum = await rendezvous.startAfterShowingCode();
    } catch (error) {
        return reportException(error, failures, "connecting the channel");
    }
    if (!checksum) return report(failures, "js-sdk stopped before the check code");
    emit("check_code", { code: checksum });

    const decision = await commands.next();
    if (decision.command === "decline") {
        await rendezvous.declineLoginOnExistingDevice();
        return emitOutcome("declined", "the user declined; js-sdk sent m.login.finish outcome=declined");
    }
    if (decision.command !== "approve") throw new Error(`expected approve or decline, got ${decision.command}`);

    try {
        const token = await withUia((auth) => client.requestLoginToken(auth), password);
        const newDeviceId = await rendezvous.approveLoginOnExistingDevice(token.login_token);
        if (!newDeviceId) return report(failures, "no answer to the login token");
        if (!rendezvous.newDeviceKey) {
            return emitOutcome("success", `${newDeviceId} signed in without E2EE; nothing to verify`);
        }
        await rendezvous.verifyNewDeviceOnExistingDevice(setup.wait_ms ?? DEFAULT_DEVICE_WAIT_MS);
    } catch (error) {
        return reportException(error, failures, "approving the new device");
    }
    emitOutcome("verified", `${rendezvous.newDeviceId} marked verified and cross-signed by js-sdk; answering secret requests`);
    // js-sdk keeps syncing and answers A's m.secret.request until the runner says stop.
}

function report(failures, context) {
    const [outcome, extra, detail] = outcomeOf(failures, context);
    emitOutcome(outcome, detail, extra);
}

/** js-sdk threw: name the check when its message says which one failed. */
function reportException(error, failures, context) {
    const message = String(error?.message ?? error);
    log(`${context} threw:`, error);
    if (message.startsWith("New device has different keys than expected")) {
        return emitOutcome("security_error", `js-sdk: ${message}`, { reason: "device_key_mismatch" });
    }
    if (message === "Device not online within timeout") {
        // js-sdk lists only devices its crypto accepted: an absent device and one with
        // an invalid self-signature look the same to it, so no reason is given.
        return emitOutcome("security_error", `js-sdk: ${message}`);
    }
    if (message === "Linking failed") {
        return emitOutcome("error", "js-sdk: the new device's answer to the token was not outcome=success", {
            reason: "unexpected_message",
        });
    }
    if (isChannelError(error)) {
        return emitOutcome("error", `js-sdk could not decrypt a channel message: ${message}`, { reason: "channel" });
    }
    if (error?.httpStatus) {
        return emitOutcome("rejected", `${context}: ${message}`, {
            status: error.httpStatus,
            errcode: error.errcode ?? "M_UNKNOWN",
        });
    }
    const [outcome, extra, detail] = outcomeOf(failures, `${context}: ${message}`);
    return emitOutcome(outcome, detail, extra);
}
