#!/usr/bin/env bash
# CI for the matrix-rust-sdk adapter: builds it from its lockfile and runs the suite
# for every role it plays (the registrar) with its expectations file. Fails when a
# scenario FAILs that the file does not list, and when a listed one passes (a stale
# expectation), so a verdict change in either direction fails CI.
#
#   adapters/rust-sdk/ci.sh path/to/conformance
#
# The conformance binary is the harness's (`cargo build -p harness`). The adapter is
# built into $CARGO_TARGET_DIR when it is set (CI keeps it between runs: a cold build
# of matrix-sdk takes minutes), else into adapters/rust-sdk/target.
set -euo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: $0 CONFORMANCE_BINARY" >&2
    exit 2
fi
if [ ! -x "$1" ]; then
    echo "$0: the conformance binary \`$1\` is not an executable file (build it with: cargo build -p harness)" >&2
    exit 2
fi
conformance="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$here/target}"

echo "== rust-sdk adapter: build (--locked)"
cargo build --locked --manifest-path "$here/Cargo.toml" --target-dir "$target"
adapter="$target/debug/rust-sdk-adapter"

# The only role matrix-sdk 0.18 can play: it has no MSC3906 (see README.md).
for role in registrar; do
    echo "== rust-sdk adapter: suite as $role"
    # Scenario paths and the expectations file are relative to the repository's root.
    (cd "$root" && "$conformance" run --client "$(printf '%q' "$adapter")" --role "$role" \
        --poll-ms 50 --jobs 2 --expectations "adapters/rust-sdk/expectations.$role.toml")
done
