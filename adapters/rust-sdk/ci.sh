#!/usr/bin/env bash
# CI for the matrix-rust-sdk adapter: checks and builds it from its lockfile, runs the suite
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

# The adapter is held to the workspace's rules: rustfmt, clippy without warnings, its
# unit tests. (`cargo fmt --all` and clippy of the workspace do not reach it.)
# RUST_SDK_LINT=0 leaves clippy out (it compiles every dependency once more).
cargo_adapter() {
    cargo "$1" --manifest-path "$here/Cargo.toml" "${@:2}"
}
echo "== rust-sdk adapter: format"
cargo_adapter fmt -- --check
echo "== rust-sdk adapter: build (--locked)"
cargo_adapter build --locked --target-dir "$target"
if [ "${RUST_SDK_LINT:-1}" != 0 ]; then
    echo "== rust-sdk adapter: lint"
    cargo_adapter clippy --locked --all-targets --target-dir "$target" -- -D warnings
fi
echo "== rust-sdk adapter: unit tests"
cargo_adapter test --locked --target-dir "$target"
adapter="$target/debug/rust-sdk-adapter"

# The only role matrix-sdk 0.18 can play: it has no MSC3906 (see README.md).
for role in registrar; do
    echo "== rust-sdk adapter: suite as $role"
    # Scenario paths and the expectations file are relative to the repository's root.
    (cd "$root" && "$conformance" run --client "$(printf '%q' "$adapter")" --role "$role" \
        --poll-ms 50 --jobs 2 --expectations "adapters/rust-sdk/expectations.$role.toml")
done
