#!/usr/bin/env bash
# CI for the matrix-js-sdk adapter: installs the packages from the committed lockfile,
# then runs the whole suite with js-sdk in each role it plays, held to its
# expectations file (a verdict that changes either way fails the run).
#
#   adapters/js-sdk/ci.sh path/to/conformance
#
# js-sdk's B waits for protocol timers (the rendezvous lifetime, its own 10 s device
# wait) in several scenarios, so B's scenarios run 4 at once; A's run 2 at once, as
# each starts js-sdk's Rust crypto (WebAssembly), the heavy part.
set -euo pipefail
conformance="$(realpath "${1:?usage: adapters/js-sdk/ci.sh path/to/conformance}")"
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
cd ../..
"$conformance" run --client "node adapters/js-sdk/adapter.mjs" --role existing-device --poll-ms 50 --jobs 4 \
    --expectations adapters/js-sdk/expectations.existing-device.toml
"$conformance" run --client "node adapters/js-sdk/adapter.mjs" --role new-device --poll-ms 50 --jobs 2 \
    --expectations adapters/js-sdk/expectations.new-device.toml
