#!/usr/bin/env node
// The matrix-js-sdk 34.9.0 adapter for the conformance harness (adapter protocol 1,
// docs/adapter-protocol.md). See README.md.
//
//   conformance run --client "node adapters/js-sdk/adapter.mjs" --role existing-device
//   conformance run --client "node adapters/js-sdk/adapter.mjs" --role new-device

import {
    Commands,
    consoleToStderr,
    emit,
    emitOutcome,
    keepStderrIn,
    log,
    outcomeReported,
    shutdown,
    unimplemented,
} from "./src/protocol.mjs";

consoleToStderr();
keepStderrIn(process.env.CONFORMANCE_JS_SDK_LOG_DIR);

const IMPLEMENTATION = "matrix-js-sdk 34.9.0 (Rust crypto; libolm 3.2.15 for the MSC3903 channel)";

async function main() {
    if (process.env.CONFORMANCE_PROTOCOL_VERSION !== "1") {
        log("unsupported protocol version", process.env.CONFORMANCE_PROTOCOL_VERSION);
        return shutdown(89);
    }
    const hs = (process.env.CONFORMANCE_HOMESERVER ?? "").replace(/\/+$/, "");
    const role = process.env.CONFORMANCE_ROLE;
    log("scenario", process.env.CONFORMANCE_SCENARIO, "role", role, "homeserver", hs);
    emit("ready", { implementation: IMPLEMENTATION });
    const commands = new Commands();

    // js-sdk and the crypto are loaded after `ready`, with the console on stderr.
    const { loadOlm } = await import("./src/matrix.mjs");
    const { logger } = await import("matrix-js-sdk/lib/logger.js");
    logger.setLevel(process.env.CONFORMANCE_JS_SDK_LOG ?? "info");
    await loadOlm();

    const setup = await commands.next();
    if (setup.command !== "setup") throw new Error(`expected setup, got ${setup.command}`);
    if (role === "existing-device") {
        const { existingDevice } = await import("./src/existing-device.mjs");
        await existingDevice(hs, setup, commands);
    } else if (role === "new-device") {
        const { newDevice } = await import("./src/new-device.mjs");
        await newDevice(hs, setup, commands);
    } else {
        await unimplemented(`the ${role} role (MSC2912 registration) is not in js-sdk 34.9.0`);
    }
    // The flow is over; the clients run on (B answers secret requests) until `stop`.
}

process.on("unhandledRejection", (reason) => log("unhandled rejection:", reason));

main().catch((error) => {
    log("adapter failed:", error);
    if (!outcomeReported()) {
        const extra = error?.httpStatus ? { reason: "homeserver" } : {};
        emitOutcome("error", String(error?.message ?? error), extra);
    }
});
