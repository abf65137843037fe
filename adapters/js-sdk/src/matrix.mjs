// What both roles need from js-sdk: the clients, their fetch, UIA, and bounded waits.

import * as sdk from "matrix-js-sdk";
import { log, isShuttingDown, onShutdown } from "./protocol.mjs";

/** The longest any single HTTP request may take before it is abandoned. */
const REQUEST_TIMEOUT_MS = 90_000;

/** The rendezvous poll budget of one `receive()`: the deployed 60 s TTL, twice. */
const RENDEZVOUS_POLL_BUDGET_MS = 120_000;

/** The pause between two polls the runner asks for (`CONFORMANCE_POLL_MS`), if any. */
export function pollMs() {
    const value = Number.parseInt(process.env.CONFORMANCE_POLL_MS ?? "", 10);
    return Number.isFinite(value) && value > 0 ? value : undefined;
}

export function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with `promise`, or rejects after `ms` with a message naming `what`. */
export async function bounded(promise, ms, what) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    });
    try {
        return await Promise.race([promise, timeout]);
    } finally {
        clearTimeout(timer);
    }
}

/** Loads libolm 3.2.15 as `global.Olm`, which js-sdk's MSC3903 channel uses for X25519/HKDF. */
export async function loadOlm() {
    const { default: Olm } = await import("@matrix-org/olm");
    global.Olm = Olm;
    await Olm.init();
}

function describe(resource) {
    if (resource instanceof URL) return resource.pathname;
    return new URL(typeof resource === "string" ? resource : resource.url).pathname;
}

/**
 * The `fetch` a client is given: the real `fetch`, bounded in time, logging every
 * exchange to stderr and telling `listener(method, path, status, body)` about it.
 * It changes nothing in the request or the answer.
 */
export function observingFetch(tag, listener = () => {}) {
    return async (resource, options = {}) => {
        const method = (options.method ?? "GET").toUpperCase();
        const path = describe(resource);
        const signals = [AbortSignal.timeout(REQUEST_TIMEOUT_MS)];
        if (options.signal) signals.push(options.signal);
        const response = await fetch(resource, { ...options, signal: AbortSignal.any(signals) });
        // Secret requests travel unencrypted: their content is worth keeping in the log.
        const content = path.includes("/sendToDevice/m.secret.request/") ? ` ${options.body}` : "";
        log(`${tag}: ${method} ${path} ${response.status}${content}`);
        listener(method, path, response.status, response);
        return response;
    };
}

/**
 * The rendezvous transport's `fetch`. js-sdk's MSC3886 transport sleeps a fixed
 * 1000 ms after every poll that brought nothing new
 * (`src/rendezvous/transports/MSC3886SimpleHttpRendezvousTransport.ts`, `sleep(1000)`):
 * with `CONFORMANCE_POLL_MS` set, a `GET` that brings nothing new (304, or a body
 * that is not `application/json`) is repeated here every `CONFORMANCE_POLL_MS`, each
 * poll a real request with the ETag of the last answer, until something new, a 404,
 * or the poll budget; the transport then sees that answer as the result of its one
 * poll. Every other request passes unchanged. Without `CONFORMANCE_POLL_MS` this is
 * `observingFetch`: js-sdk polls at its own pace.
 */
export function rendezvousFetch(tag, listener = () => {}) {
    const plain = observingFetch(tag, listener);
    const pause = pollMs();
    if (!pause) return plain;
    return async (resource, options = {}) => {
        const method = (options.method ?? "GET").toUpperCase();
        let response = await plain(resource, options);
        if (method !== "GET") return response;
        const started = Date.now();
        while (nothingNew(response) && Date.now() - started < RENDEZVOUS_POLL_BUDGET_MS && !isShuttingDown()) {
            await sleep(pause);
            const headers = { ...(options.headers ?? {}) };
            const etag = response.headers.get("etag");
            if (etag) headers["if-none-match"] = etag;
            else delete headers["if-none-match"];
            response = await plain(resource, { ...options, headers });
        }
        return response;
    };
}

function nothingNew(response) {
    return response.status !== 404 && response.headers.get("content-type") !== "application/json";
}

/** A client that is not signed in (login, the transport's `/versions` check). */
export function anonymousClient(baseUrl, tag, listener) {
    return sdk.createClient({ baseUrl, fetchFn: observingFetch(tag, listener) });
}

/**
 * A signed-in client with js-sdk's Rust crypto (matrix-sdk-crypto-wasm), its store
 * in memory (`useIndexedDB: false`: Node has no IndexedDB). Stopped at the end of
 * the run.
 */
export async function cryptoClient({ baseUrl, userId, deviceId, accessToken, tag, listener }) {
    const client = sdk.createClient({
        baseUrl,
        userId,
        deviceId,
        accessToken,
        fetchFn: observingFetch(tag, listener),
    });
    onShutdown(() => client.stopClient());
    await client.initRustCrypto({ useIndexedDB: false });
    return client;
}

/**
 * Starts the client's sync loop and waits (bounded) for the first sync, as an app
 * does at start-up: push rules, filter, `/sync`, and Rust crypto's key upload.
 */
export async function startAndSync(client, timeoutMs = 30_000) {
    const synced = new Promise((resolve, reject) => {
        const onSync = (state, _previous, data) => {
            if (state === "PREPARED" || state === "SYNCING") {
                client.off(sdk.ClientEvent.Sync, onSync);
                resolve();
            } else if (state === "ERROR") {
                log("sync error:", data?.error ?? "");
            }
        };
        client.on(sdk.ClientEvent.Sync, onSync);
    });
    // js-sdk long-polls /sync for 30 s, and Rust crypto sends what a sync brought
    // (e.g. the m.secret.send after a /keys/claim) only when the next sync returns;
    // with CONFORMANCE_POLL_MS set, js-sdk's own `pollTimeout` option shortens the wait.
    const pause = pollMs();
    await client.startClient({ initialSyncLimit: 1, ...(pause ? { pollTimeout: Math.max(20 * pause, 1000) } : {}) });
    await bounded(synced, timeoutMs, "first sync");
}

/**
 * Calls `call(auth)` through user-interactive authentication, completing the first
 * flow whose stages `stages` (stage type -> extra auth fields) all knows.
 */
export async function withUia(call, stages) {
    let auth;
    for (let round = 0; round < 4; round++) {
        try {
            return await call(auth);
        } catch (error) {
            const body = error?.data;
            if (error?.httpStatus !== 401 || !Array.isArray(body?.flows)) throw error;
            if (auth && body.errcode) throw error;
            const done = body.completed ?? [];
            const flow = body.flows.find((f) => {
                const todo = (f.stages ?? []).filter((s) => !done.includes(s));
                return todo.length > 0 && todo.every((s) => s in stages);
            });
            if (!flow) throw error;
            const stage = flow.stages.find((s) => !done.includes(s));
            auth = { type: stage, session: body.session, ...stages[stage] };
        }
    }
    throw new Error("user-interactive authentication did not complete in 4 rounds");
}

/** The password stage for `user`. */
export function passwordStage(user, password) {
    return { "m.login.password": { identifier: { type: "m.id.user", user }, password }, "m.login.dummy": {} };
}

export { sdk };
