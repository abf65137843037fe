// Adapter protocol 1 framing (docs/adapter-protocol.md): events on stdout, one JSON
// object a line; commands from stdin; everything else on stderr.

import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

/** Exit status that tells the runner the implementation cannot play the role. */
export const EXIT_UNIMPLEMENTED = 89;

const realStdoutWrite = process.stdout.write.bind(process.stdout);

/**
 * With `CONFORMANCE_JS_SDK_LOG_DIR` set, stderr is also kept in
 * `<dir>/<role>.<scenario>.log`: the runner shows an adapter's stderr only when the
 * adapter fails, not when an expectation does.
 */
export function keepStderrIn(dir) {
    if (!dir) return;
    mkdirSync(dir, { recursive: true });
    const scenario = (process.env.CONFORMANCE_SCENARIO ?? "unnamed").replaceAll("/", "__");
    const file = createWriteStream(join(dir, `${process.env.CONFORMANCE_ROLE}.${scenario}.log`), { flags: "a" });
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = (chunk, ...rest) => {
        file.write(chunk);
        return write(chunk, ...rest);
    };
}

/** A log line on stderr (kept by the runner as the adapter's log). */
export function log(...parts) {
    const text = parts.map((p) => (typeof p === "string" ? p : inspectOne(p))).join(" ");
    const ms = String(Math.round(performance.now())).padStart(6);
    process.stderr.write(`adapter ${ms} ms: ${text}\n`);
}

function inspectOne(value) {
    if (value instanceof Error) return value.stack ?? String(value);
    try {
        return JSON.stringify(value);
    } catch {
        return String(value);
    }
}

/**
 * Sends js-sdk's and everybody else's console output to stderr: stdout carries
 * events only. Must run before js-sdk is imported (loglevel binds console methods
 * when its level is set).
 */
export function consoleToStderr() {
    for (const method of ["log", "info", "debug", "trace", "warn"]) {
        console[method] = (...args) => console.error(...args);
    }
}

let outcomeSent = false;

/** Prints one event line on stdout. */
export function emit(event, fields = {}) {
    realStdoutWrite(JSON.stringify({ event, ...fields }) + "\n");
}

/** Reports the flow's end; only the first outcome of a run is sent. */
export function emitOutcome(outcome, detail, extra = {}) {
    if (outcomeSent) {
        log("outcome already sent; dropping", outcome, detail);
        return;
    }
    outcomeSent = true;
    log("outcome", outcome, extra.reason ?? "", detail);
    emit("outcome", { outcome, ...extra, detail });
}

/** Whether an outcome has been reported. */
export function outcomeReported() {
    return outcomeSent;
}

/** Says the role or scenario cannot be played, then exits with status 89. */
export async function unimplemented(detail) {
    emit("unimplemented", { detail });
    await shutdown(EXIT_UNIMPLEMENTED);
}

const cleanups = [];

/** Registers something to stop when the run ends (a client, a timer). */
export function onShutdown(cleanup) {
    cleanups.push(cleanup);
}

let shuttingDown = false;

/** Stops every registered client and exits. */
export async function shutdown(status = 0) {
    if (shuttingDown) return;
    shuttingDown = true;
    for (const cleanup of cleanups.reverse()) {
        try {
            await cleanup();
        } catch (error) {
            log("cleanup failed:", error);
        }
    }
    process.exit(status);
}

/** Whether the run is ending (long loops check it). */
export function isShuttingDown() {
    return shuttingDown;
}

/**
 * The commands from stdin, one at a time. `stop` and the end of stdin end the run
 * at once, whatever the flow is doing: the runner decides when it is over.
 */
export class Commands {
    constructor() {
        this.queue = [];
        this.waiters = [];
        const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
        lines.on("line", (line) => this.onLine(line));
        lines.on("close", () => {
            log("stdin closed");
            void shutdown(0);
        });
    }

    onLine(line) {
        const text = line.trim();
        if (!text) return;
        let command;
        try {
            command = JSON.parse(text);
        } catch (error) {
            log("ignoring a line that is not JSON:", text);
            return;
        }
        log("command", command.command);
        if (command.command === "stop") {
            void shutdown(0);
            return;
        }
        const waiter = this.waiters.shift();
        if (waiter) waiter(command);
        else this.queue.push(command);
    }

    /** The next command (never `stop`: that ends the process). */
    next() {
        const queued = this.queue.shift();
        if (queued) return Promise.resolve(queued);
        return new Promise((resolve) => this.waiters.push(resolve));
    }
}
