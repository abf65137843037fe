// The new device (A), scanning B's code. js-sdk has no new-device side of MSC3906,
// so the MSC3906 message logic here is the adapter's, written after Element
// Android's `Rendezvous.kt` (v1 messages, steps 7, 13-15, 20-23); every piece of
// protocol machinery is js-sdk's: the MSC3886 transport, the MSC3903 channel, the
// login, and the Rust crypto (key upload, /keys/query, device and identity trust,
// m.secret.request, accepting m.secret.send).

import {
    MSC3886SimpleHttpRendezvousTransport,
    MSC3903ECDHv2RendezvousChannel,
} from "matrix-js-sdk/lib/rendezvous/index.js";
import { decodeBase64 } from "matrix-js-sdk/lib/base64.js";

import { FailureLog, isChannelError, outcomeOf } from "./failures.mjs";
import { checkVerifyingDevice, trustAndRequestSecrets, waitForSecrets } from "./new-device-trust.mjs";
import { anonymousClient, bounded, cryptoClient, rendezvousFetch, startAndSync } from "./matrix.mjs";
import { emit, emitOutcome, log, unimplemented } from "./protocol.mjs";

const ALGORITHM = "org.matrix.msc3903.rendezvous.v2.curve25519-aes-sha256";
const TRANSPORT = "org.matrix.msc3886.http.v1";
const LOGIN_TOKEN = "org.matrix.msc3906.login_token";
const KEYS_UPLOAD_TIMEOUT_MS = 30_000;

/** Plays A: `setup` has been read; the next command starts the flow. */
export async function newDevice(hs, setup, commands) {
    const start = await commands.next();
    if (start.command === "show_qr") {
        return unimplemented(
            "js-sdk 34.9.0 has no new-device side of MSC3906, and the deployed new device (Element Android) only scans",
        );
    }
    if (start.command !== "scan_qr") throw new Error(`expected scan_qr, got ${start.command}`);
    let code;
    try {
        code = JSON.parse(start.payload);
    } catch (error) {
        return emitOutcome("error", `the QR payload is not JSON: ${error.message}`, { reason: "malformed_message" });
    }
    if (code.flow !== undefined) {
        return unimplemented(`js-sdk 34.9.0 speaks only the v1 MSC3906 messages; the code announces ${code.flow}`);
    }
    const rz = code.rendezvous ?? {};
    if (rz.algorithm !== ALGORITHM || rz.transport?.type !== TRANSPORT || !rz.key || !rz.transport?.uri) {
        return emitOutcome("unsupported", `unsupported QR code (algorithm ${rz.algorithm}, transport ${rz.transport?.type})`);
    }

    const failures = new FailureLog();
    const fetchFn = rendezvousFetch("A rendezvous", failures.listener);
    const transport = new MSC3886SimpleHttpRendezvousTransport({
        client: anonymousClient(hs, "A"),
        onFailure: failures.onFailure,
        fetchFn,
    });
    // js-sdk has no scanner-side constructor: the transport only learns its URI from
    // its own POST. The scanner writes to the URI of the code instead.
    transport.uri = rz.transport.uri;
    const channel = new MSC3903ECDHv2RendezvousChannel(transport, decodeBase64(rz.key), failures.onFailure);
    const flow = new Flow(channel, transport, fetchFn, failures);
    try {
        await flow.run(code, setup);
    } catch (error) {
        log("the flow threw:", error);
        if (isChannelError(error)) {
            return emitOutcome("error", `could not decrypt a channel message: ${error.message}`, { reason: "channel" });
        }
        if (error?.httpStatus) {
            return emitOutcome("rejected", String(error.message), {
                status: error.httpStatus,
                errcode: error.errcode ?? "M_UNKNOWN",
            });
        }
        const [outcome, extra, detail] = outcomeOf(failures, String(error?.message ?? error));
        return emitOutcome(outcome, detail, extra);
    }
}

/** One run of the v1 messages on an open channel. */
class Flow {
    constructor(channel, transport, fetchFn, failures) {
        this.channel = channel;
        this.transport = transport;
        this.fetchFn = fetchFn;
        this.failures = failures;
    }

    async receive(waitingFor) {
        const message = await this.channel.receive();
        if (!message) throw new Error(`the rendezvous ended while waiting for ${waitingFor}`);
        log("received", message.type, message.outcome ?? message.protocols ?? "");
        return message;
    }

    /** Element Android deletes the rendezvous when it closes after the peer's last word. */
    async closeAfterPeer() {
        await this.channel.close();
        try {
            await this.fetchFn(this.transport.uri, { method: "DELETE" });
        } catch (error) {
            log("DELETE of the rendezvous failed:", error);
        }
    }

    async run(code, setup) {
        const checksum = await this.channel.connect();
        emit("check_code", { code: checksum });
        if (code.intent !== "login.reciprocate") {
            // The rendezvous holds one message: after writing our key it is B's turn,
            // so B's first message is read before ours replaces it (docs/protocol.md §1.7).
            await this.receive("B's first message");
            await this.channel.send({ type: "m.login.finish", intent: "login.start" });
            return emitOutcome("incompatible_intent", `the code's intent is ${code.intent}; ours is login.start`);
        }

        const offer = await this.receive("the protocols (step 6)");
        if (offer.type === "m.login.finish") return this.peerFinished(offer);
        if (offer.type !== "m.login.progress" || !Array.isArray(offer.protocols)) {
            return emitOutcome("error", `expected the protocols, got ${JSON.stringify(offer)}`, { reason: "unexpected_message" });
        }
        if (!offer.protocols.includes(LOGIN_TOKEN)) {
            await this.channel.send({ type: "m.login.finish", outcome: "unsupported" });
            return emitOutcome("unsupported", `no protocol we know in ${JSON.stringify(offer.protocols)}`);
        }
        await this.channel.send({ type: "m.login.progress", protocol: LOGIN_TOKEN });

        const approval = await this.receive("the login token (step 12)");
        if (approval.type === "m.login.finish") return this.peerFinished(approval);
        if (!approval.login_token || !approval.homeserver) {
            return emitOutcome("error", `expected a login token, got ${JSON.stringify(approval)}`, { reason: "unexpected_message" });
        }
        const login = anonymousClient(approval.homeserver, "A");
        const creds = await login.login("m.login.token", {
            token: approval.login_token,
            initial_device_display_name: "matrix-js-sdk 34.9.0 (conformance adapter)",
        });
        log("signed in as", creds.user_id, creds.device_id);
        if (setup.e2ee === false) {
            await this.channel.send({ type: "m.login.finish", outcome: "success" });
            return emitOutcome("success", `signed in as ${creds.user_id} without E2EE`);
        }

        let uploaded;
        const keysUploaded = new Promise((resolve) => (uploaded = resolve));
        const client = await cryptoClient({
            baseUrl: approval.homeserver,
            userId: creds.user_id,
            deviceId: creds.device_id,
            accessToken: creds.access_token,
            tag: "A",
            listener: (method, path, status) => {
                if (method === "POST" && path.endsWith("/keys/upload") && status === 200) uploaded();
            },
        });
        await startAndSync(client);
        await bounded(keysUploaded, KEYS_UPLOAD_TIMEOUT_MS, "js-sdk's upload of the device keys");
        const ownKeys = await client.getCrypto().getOwnDeviceKeys();
        await this.channel.send({
            type: "m.login.progress",
            outcome: "success",
            device_id: creds.device_id,
            device_key: ownKeys.ed25519,
        });

        const verified = await this.receive("m.login.finish outcome=verified (step 19)");
        if (verified.type !== "m.login.finish" || verified.outcome !== "verified" || !verified.verifying_device_id) {
            return this.peerFinished(verified);
        }
        const failed = await checkVerifyingDevice(client, verified);
        if (failed) {
            await this.channel.send({ type: "m.login.finish", outcome: "e2ee_security_error" });
            await this.channel.close();
            return emitOutcome("security_error", failed.detail, { reason: failed.reason });
        }
        const expected = await trustAndRequestSecrets(client, verified);
        const missing = await waitForSecrets(client, expected, setup.wait_ms);
        if (missing.length > 0) {
            return emitOutcome("error", `secrets not received or not accepted: ${missing.join(", ")}`, { reason: "timeout" });
        }
        emitOutcome("verified", `signed in as ${creds.user_id}; ${verified.verifying_device_id} verified; accepted ${expected.join(", ") || "no secrets"}`);
    }

    /** B ended the flow with an `m.login.finish` (or something else unexpected). */
    async peerFinished(message) {
        if (message.type !== "m.login.finish") {
            return emitOutcome("error", `unexpected message ${JSON.stringify(message)}`, { reason: "unexpected_message" });
        }
        switch (message.outcome) {
            case "declined":
                await this.closeAfterPeer();
                return emitOutcome("declined", "B declined");
            case "unsupported":
                await this.closeAfterPeer();
                return emitOutcome("unsupported", "B: the homeserver or B lacks support");
            case "e2ee_security_error":
                return emitOutcome("security_error", "B reported a security error", { reason: "peer_security_error" });
            case "cancelled":
                return emitOutcome("cancelled", "B cancelled");
            default:
                return emitOutcome("error", `unexpected m.login.finish ${JSON.stringify(message)}`, { reason: "unexpected_message" });
        }
    }
}

