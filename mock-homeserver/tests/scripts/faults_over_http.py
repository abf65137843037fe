#!/usr/bin/env python3
"""Drives a standalone `mock-homeserver` over HTTP only, with nothing but the Python
standard library, as a client author's test suite in any language would:

1. starts the binary and reads its base URL and harness token from stdout;
2. logs a user in and uploads device keys;
3. adds a `tamper-device-key` fault through `POST /_harness/faults` and sees
   `/keys/query` serve the tampered key, and the journal name the fault;
4. clears the faults through `DELETE /_harness/faults` and sees the real key again.

Usage: faults_over_http.py PATH_TO_MOCK_HOMESERVER
Exit status 0 when every check holds; otherwise a message on stderr and status 1.
"""

import ctypes
import json
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request

TIMEOUT_S = 20
REAL_KEY = "Q2hlY2tpbmcgdGhlIHJlYWwga2V5IGJlZm9yZSBhbnl0aGluZw"
TAMPERED_KEY = "VGFtcGVyZWQgYnkgdGhlIGhhcm5lc3MgZm9yIHRoaXMgdGVzdA"


def fail(message):
    print(f"faults_over_http: {message}", file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def call(method, url, body=None, token=None):
    """One request; returns (status, parsed JSON body)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def die_with_parent():
    """On Linux, the server gets SIGTERM if this script dies first (e.g. killed by the
    test's time bound), so that no server outlives the run."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def read_two_lines(process):
    """The base URL and the harness token, within TIMEOUT_S."""
    lines = []

    def reader():
        for _ in range(2):
            lines.append(process.stdout.readline().strip())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(TIMEOUT_S)
    check(len(lines) == 2, f"the server printed {lines!r} within {TIMEOUT_S} s")
    return lines


def main():
    if len(sys.argv) != 2:
        fail("usage: faults_over_http.py PATH_TO_MOCK_HOMESERVER")
    server = subprocess.Popen(
        [sys.argv[1], "--listen", "127.0.0.1:0", "--account", "alice:secret", "--seed", "7"],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent if sys.platform.startswith("linux") else None,
    )
    try:
        base_url, token_line = read_two_lines(server)
        check(base_url.startswith("http://127.0.0.1:"), f"base URL {base_url!r}")
        prefix = "harness token: "
        check(token_line.startswith(prefix), f"token line {token_line!r}")
        harness_token = token_line[len(prefix):]
        run_checks(base_url, harness_token)
    finally:
        server.terminate()
        try:
            server.wait(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    print("faults_over_http: ok")


def run_checks(base, harness_token):
    client = f"{base}/_matrix/client/v3"
    status, login = call("POST", f"{client}/login", {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": "alice"},
        "password": "secret",
    })
    check(status == 200, f"login: {status} {login}")
    user_id, device_id, token = login["user_id"], login["device_id"], login["access_token"]

    device_keys = {
        "user_id": user_id,
        "device_id": device_id,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": {f"ed25519:{device_id}": REAL_KEY, f"curve25519:{device_id}": REAL_KEY},
        "signatures": {user_id: {f"ed25519:{device_id}": "c2lnbmF0dXJl"}},
    }
    status, body = call("POST", f"{client}/keys/upload", {"device_keys": device_keys}, token)
    check(status == 200, f"keys/upload: {status} {body}")

    def served_key():
        status, body = call("POST", f"{client}/keys/query", {"device_keys": {user_id: []}}, token)
        check(status == 200, f"keys/query: {status} {body}")
        return body["device_keys"][user_id][device_id]["keys"][f"ed25519:{device_id}"]

    check(served_key() == REAL_KEY, "before the fault, /keys/query serves the uploaded key")

    faults = f"{base}/_harness/faults"
    status, body = call("GET", faults)
    check(status == 401, f"the harness API without the token: {status} {body}")

    fault = {
        "kind": "tamper-device-key",
        "user_id": user_id,
        "device_id": device_id,
        "field": "ed25519",
        "value": TAMPERED_KEY,
    }
    status, body = call("POST", faults, fault, harness_token)
    check(status == 200 and body["faults"] == [fault], f"adding the fault: {status} {body}")
    check(served_key() == TAMPERED_KEY, "with the fault, /keys/query serves the tampered key")

    status, journal = call("GET", f"{base}/_harness/journal", token=harness_token)
    check(status == 200, f"journal: {status}")
    last = journal["journal"][-1]
    check(last["path"] == "/_matrix/client/v3/keys/query", f"last entry {last['path']}")
    check(last["faults"] == [f"tamper-device-key {user_id}/{device_id} Ed25519"], f"faults {last['faults']}")

    status, body = call("DELETE", faults, token=harness_token)
    check(status == 200 and body["faults"] == [], f"clearing the faults: {status} {body}")
    check(served_key() == REAL_KEY, "after clearing, /keys/query serves the uploaded key again")


if __name__ == "__main__":
    main()
