// js-sdk's ways of failing, in the runner's outcome names.
//
// js-sdk reports a failed rendezvous through `onFailure(reason)` callbacks (the
// transport, the channel and MSC3906Rendezvous each call it, so one failure may
// arrive two or three times) and through exceptions. The first reason is the most
// specific one: MSC3906Rendezvous calls `onFailure` before it cancels the channel.

/**
 * Collects what went wrong: js-sdk's failure reasons, and whether the rendezvous
 * answered 404 (the fetch listener sees every exchange).
 */
export class FailureLog {
    constructor() {
        this.reasons = [];
        this.rendezvousGone = false;
        this.onFailure = (reason) => {
            this.reasons.push(reason);
        };
        this.listener = (method, path, status) => {
            if (status === 404 && path.includes("/rendezvous")) this.rendezvousGone = true;
        };
    }

    /** The first reason js-sdk gave, if any. */
    get first() {
        return this.reasons[0];
    }
}

/**
 * The outcome for a flow js-sdk ended without an exception: `[outcome, extra,
 * detail]`. `expired` is the runner's name for "the rendezvous went away" (a 404),
 * whatever label js-sdk put on it: js-sdk calls a 404 `expired` only when its own
 * clock is past the `Expires` header of the create answer, `unknown` otherwise
 * (`src/rendezvous/transports/MSC3886SimpleHttpRendezvousTransport.ts`, `cancel`).
 */
export function outcomeOf(failures, context) {
    const reason = failures.first ?? "none";
    const detail = `${context}; js-sdk failure reasons: [${failures.reasons.join(", ")}]`;
    switch (reason) {
        case "user_declined":
            return ["declined", {}, detail];
        case "user_cancelled":
            return ["cancelled", {}, detail];
        case "homeserver_lacks_support":
            return ["unsupported", {}, detail];
        case "unsupported_algorithm":
        case "unsupported_protocol":
            return ["unsupported", {}, detail];
        case "expired":
            return ["expired", { reason: "rendezvous_gone" }, detail];
        default:
            if (failures.rendezvousGone) return ["expired", { reason: "rendezvous_gone" }, detail];
            return ["error", {}, detail];
    }
}

/** Whether an exception is a failed AES-GCM decryption (WebCrypto's `OperationError`). */
export function isChannelError(error) {
    return error?.name === "OperationError" || /Missing ciphertext|no ciphertext/.test(String(error?.message));
}
