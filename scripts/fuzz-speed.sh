#!/bin/sh
# Runs/s of `conformance fuzz` in process, for each role: a release build, then
# `--time` (default 60s) per role with `--jobs` (default 2). Prints each report's
# first line and its violation count.
set -eu
time="${1:-60s}"
jobs="${2:-2}"
cd "$(dirname "$0")/.."
cargo build --release -p harness --bin conformance
for role in new-device existing-device registrar; do
    ./target/release/conformance fuzz --role "$role" --time "$time" --jobs "$jobs" \
        | grep -E '^fuzz |distinct violation' || true
done
