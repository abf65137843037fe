#!/usr/bin/env bash
# Proves that snapshot review works with cargo-insta, end to end, in a temporary clone
# of the current commit (the checkout itself is never touched):
#
#   1. a changed seed: `cargo insta test -p harness --test scenarios` writes a pending
#      snapshot, `cargo insta pending-snapshots` finds it, `cargo insta accept` keeps it,
#      and the scenario's test passes again with exactly that snapshot changed;
#   2. a new scenario without a snapshot: `cargo test` says so plainly and fails,
#      `cargo insta test --test scenarios` reports it to review, `cargo insta accept`
#      writes it, and both the scenario's test and the suite's pairing test pass.
#
# Needs cargo-insta (`cargo install cargo-insta --locked`). Builds go to
# $CARGO_TARGET_DIR (default: target/snapshot-review of this checkout), reused by the
# next run. Exits non-zero, saying which step failed, when anything is not as expected.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
started=$(date +%s)
export CARGO_TERM_COLOR=never
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$src/target/snapshot-review}"
# cargo-insta only checks (writes nothing) when it believes it runs in CI, and the
# INSTA_* variables would override what each step asks for.
unset CI INSTA_UPDATE INSTA_FORCE_PASS INSTA_WORKSPACE_ROOT INSTA_PENDING_DIR INSTA_OUTPUT

fail() {
    echo "snapshot-review: FAILED: $*" >&2
    exit 1
}

cargo insta --version >/dev/null 2>&1 \
    || fail "cargo-insta is not installed (cargo install cargo-insta --locked)"

commit="$(git -C "$src" rev-parse HEAD)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/snapshot-review.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo "== clone of $commit in $tmp/repo ($(cargo insta --version))"
git clone --quiet --no-hardlinks --no-checkout "$src" "$tmp/repo"
git -C "$tmp/repo" checkout --quiet --detach "$commit"
cd "$tmp/repo"
log="$tmp/log"

# Runs a command, keeping its output in $log; prints it when asked to fail.
run() {
    "$@" >"$log" 2>&1
}
show_log() {
    sed 's/^/    | /' "$log" | tail -40 >&2
}

echo "== build"
cargo test --locked -p harness --test scenarios --no-run >"$log" 2>&1 || { show_log; fail "the build"; }
run cargo test --locked -p harness --test scenarios || { show_log; fail "the suite does not pass before any change"; }

echo "== 1. a changed seed"
scenario=scenarios/register/msc2912-keys-in-register.toml
snapshot=snapshots/register__msc2912-keys-in-register.snap
[ -f "$scenario" ] && [ -f "$snapshot" ] || fail "$scenario or $snapshot is missing"
old_seed="$(sed -n 's/^seed = \([0-9]*\)$/\1/p' "$scenario")"
[ -n "$old_seed" ] || fail "$scenario has no \`seed = N\` line"
sed -i "s/^seed = $old_seed\$/seed = $((old_seed + 1))/" "$scenario"

# The command of issue 11 that used to end in a dead end.
run cargo insta test -p harness --test scenarios \
    || { show_log; fail "cargo insta test -p harness failed (the changed seed should only make a pending snapshot)"; }
grep -q "the transcript of register/msc2912-keys-in-register differs from $snapshot: the new one is in $snapshot.new" "$log" \
    || { show_log; fail "the test did not name the changed snapshot"; }
[ -f "$snapshot.new" ] || fail "no $snapshot.new was written"
run cargo insta pending-snapshots || { show_log; fail "cargo insta pending-snapshots"; }
grep -q "$snapshot" "$log" || { show_log; fail "cargo insta pending-snapshots does not list $snapshot"; }
run cargo insta accept || { show_log; fail "cargo insta accept"; }
grep -q "msc2912-keys-in-register.snap" "$log" || { show_log; fail "cargo insta accept did not accept $snapshot"; }
[ ! -f "$snapshot.new" ] || fail "$snapshot.new is still there after accepting"
changed="$(git status --porcelain | sort)"
expected="$(printf ' M %s\n M %s\n' "$scenario" "$snapshot" | sort)"
[ "$changed" = "$expected" ] || fail "after accepting, the changed files are:
$changed
instead of:
$expected"
git diff --quiet -- "$snapshot" && fail "accepting did not change $snapshot"
run cargo test --locked -p harness --test scenarios -- register/msc2912-keys-in-register \
    || { show_log; fail "the scenario does not pass with its accepted snapshot"; }
git checkout --quiet -- "$scenario" "$snapshot"

echo "== 2. a new scenario without a snapshot"
new=scenarios/qr-login/happy/review-check-copy.toml
new_snapshot=snapshots/qr-login__happy__review-check-copy.snap
sed 's/^seed = .*/seed = 424242/' scenarios/qr-login/happy/b-shows-code-v1.toml >"$new"
if run cargo test --locked -p harness --test scenarios -- qr-login/happy/review-check-copy; then
    fail "a scenario without a snapshot passed"
fi
grep -q "qr-login/happy/review-check-copy has no snapshot yet" "$log" \
    || { show_log; fail "the test did not say plainly that the new scenario has no snapshot"; }
if run cargo test --locked -p conformance-suite; then
    fail "the pairing test passed with a scenario that has no snapshot"
fi
grep -q "scenario qr-login/happy/review-check-copy has no snapshot yet" "$log" \
    || { show_log; fail "the pairing test did not name the new scenario"; }
rm -f "$new_snapshot.new"
# Without -p, cargo-insta uses the root package, whose folder holds snapshots/: its
# summary counts the new snapshot (and exits 1 because there is one to review).
if run cargo insta test --test scenarios; then
    fail "cargo insta test reported nothing to review"
fi
grep -q "1 snapshot to review" "$log" || { show_log; fail "cargo insta test did not report the one new snapshot"; }
run cargo insta accept || { show_log; fail "cargo insta accept"; }
[ -f "$new_snapshot" ] && [ ! -f "$new_snapshot.new" ] || fail "accepting did not write $new_snapshot"
run cargo test --locked -p harness --test scenarios -- qr-login/happy/review-check-copy \
    || { show_log; fail "the new scenario does not pass with its accepted snapshot"; }
run cargo test --locked -p conformance-suite || { show_log; fail "the pairing test fails after accepting"; }

echo "snapshot-review: ok in $(($(date +%s) - started)) s"
