#!/usr/bin/env python3
"""Example adapter for the conformance harness (adapter protocol 1).

The starting point for client authors: see docs/adapter-protocol.md. Python 3.11,
standard library only.

* The protocol framing is complete: `ready`, commands from stdin, events on stdout
  (one JSON object per line, flushed), logs on stderr, `unimplemented` / exit 89.
* The registrar role (MSC2912) is a real client written with urllib: /versions,
  /register through UIA (m.login.dummy, m.login.registration_token) with the
  cross-signing keys under `org.matrix.msc2912.device_signing` when the server
  advertises `org.matrix.msc2912`, a /keys/query check of the keys it stored, a
  re-upload through /keys/device_signing/upload (UIA with the password) when they
  are missing, the device keys, and the device signed by the self-signing key.
  Ed25519 signing is done in pure Python (RFC 8032), so no dependency is needed.
* The new device and the existing device answer `unimplemented`: replace
  `new_device` and `existing_device` with calls into your SDK.

Run it:  conformance run --client "python3 adapters/python/example_adapter.py" --role registrar
Self-test of the crypto:  python3 adapters/python/example_adapter.py --self-test
"""

import base64
import hashlib
import json
import os
import secrets
import sys
import urllib.error
import urllib.request

IMPLEMENTATION = "example-python-adapter 1"
EXIT_UNIMPLEMENTED = 89
HTTP_TIMEOUT_S = 20


# --- protocol framing -------------------------------------------------------------


def log(*parts):
    """Everything on stderr is kept by the runner as this adapter's log."""
    print("adapter:", *parts, file=sys.stderr, flush=True)


def emit(event, **fields):
    """Prints one event line on stdout."""
    print(json.dumps({"event": event, **fields}), flush=True)


class Stopped(Exception):
    """The runner sent `stop` or closed stdin."""


def next_command():
    """The next command from stdin (blank lines skipped)."""
    while True:
        line = sys.stdin.readline()
        if not line:
            raise Stopped()
        line = line.strip()
        if not line:
            continue
        command = json.loads(line)
        log("command", command.get("command"))
        if command.get("command") == "stop":
            raise Stopped()
        return command


def unimplemented(detail):
    emit("unimplemented", detail=detail)
    sys.exit(EXIT_UNIMPLEMENTED)


# --- Ed25519 (RFC 8032) and the Matrix JSON signing rules -------------------------

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
GY = 4 * pow(5, P - 2, P) % P
GX = 15112221349535400772501151409588531511454012693041857206046113283949847762202
G = (GX, GY, 1, GX * GY % P)


def _add(p1, p2):
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = t1 * 2 * D * t2 % P
    d = z1 * 2 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s, point):
    result = (0, 1, 1, 0)
    while s:
        if s & 1:
            result = _add(result, point)
        point = _add(point, point)
        s >>= 1
    return result


def _encode(point):
    x, y, z, _ = point
    zi = pow(z, P - 2, P)
    x, y = x * zi % P, y * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _expand(seed):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def ed25519_public(seed):
    a, _ = _expand(seed)
    return _encode(_mul(a, G))


def ed25519_sign(seed, message):
    a, prefix = _expand(seed)
    public = _encode(_mul(a, G))
    r = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % L
    big_r = _encode(_mul(r, G))
    h = int.from_bytes(hashlib.sha512(big_r + public + message).digest(), "little") % L
    return big_r + ((r + h * a) % L).to_bytes(32, "little")


def x25519_public(secret):
    """Curve25519 public key of a 32-byte secret (RFC 7748 ladder on u = 9)."""
    k = bytearray(secret)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    k = int.from_bytes(k, "little")
    x1, x2, z2, x3, z3, swap = 9, 1, 0, 9, 1, 0
    for t in reversed(range(255)):
        bit = (k >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = x2 + z2, x2 - z2
        aa, bb = a * a % P, b * b % P
        e = aa - bb
        c, d = x3 + z3, x3 - z3
        da, cb = d * a % P, c * b % P
        x3, z3 = (da + cb) ** 2 % P, x1 * (da - cb) ** 2 % P
        x2, z2 = aa * bb % P, e * (aa + 121665 * e) % P
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, P - 2, P) % P).to_bytes(32, "little")


def b64(data):
    """Unpadded standard base64, as Matrix uses it."""
    return base64.b64encode(data).decode().rstrip("=")


def canonical_json(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def sign_json(obj, user_id, key_id, seed):
    """Adds a signature to `obj` (without `signatures` and `unsigned`) in place."""
    unsigned = {k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}
    signature = b64(ed25519_sign(seed, canonical_json(unsigned)))
    obj.setdefault("signatures", {}).setdefault(user_id, {})[key_id] = signature
    return obj


class Key:
    """An Ed25519 key pair."""

    def __init__(self):
        self.seed = secrets.token_bytes(32)
        self.public = b64(ed25519_public(self.seed))


# --- HTTP -------------------------------------------------------------------------


class MatrixError(Exception):
    def __init__(self, status, body):
        super().__init__(f"{status} {body.get('errcode', '?')}: {body.get('error', '')}")
        self.status, self.body = status, body


def request(method, url, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT_S) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            payload = json.loads(error.read() or b"{}")
        except ValueError:
            payload = {}
        raise MatrixError(error.code, payload) from None


def with_uia(call, stages):
    """Calls `call(auth)` through user-interactive auth, completing the first flow
    whose stages are all in `stages` (a dict: stage -> extra auth fields)."""
    auth = None
    for _ in range(4):
        try:
            return call(auth)
        except MatrixError as error:
            if error.status != 401 or "flows" not in error.body:
                raise
            if error.body.get("errcode") and auth is not None:
                raise
            done = error.body.get("completed", [])
            for flow in error.body["flows"]:
                todo = [s for s in flow.get("stages", []) if s not in done]
                if todo and all(s in stages for s in todo):
                    auth = {"type": todo[0], "session": error.body.get("session"), **stages[todo[0]]}
                    break
            else:
                raise
    raise MatrixError(401, {"errcode": "M_FORBIDDEN", "error": "UIA did not complete in 4 rounds"})


# --- the registrar (MSC2912) ------------------------------------------------------


def registrar(hs, setup, command):
    username, password = setup["username"], setup["password"]
    user_id = f"@{username.lower()}:{setup.get('server_name', 'test')}"
    master, self_signing, user_signing = Key(), Key(), Key()
    device_key, device_curve = Key(), secrets.token_bytes(32)

    def cross_signing_key(key, usage, signer=None):
        body = {"user_id": user_id, "usage": [usage], "keys": {f"ed25519:{key.public}": key.public}}
        if signer:
            sign_json(body, user_id, f"ed25519:{signer.public}", signer.seed)
        return body

    keys = {
        "master_key": cross_signing_key(master, "master"),
        "self_signing_key": cross_signing_key(self_signing, "self_signing", master),
        "user_signing_key": cross_signing_key(user_signing, "user_signing", master),
    }

    versions = request("GET", f"{hs}/_matrix/client/versions")
    advertised = bool(versions.get("unstable_features", {}).get("org.matrix.msc2912"))
    emit("decision", decision=f"checked msc2912 support: {'yes' if advertised else 'no'}")

    body = {"username": username, "password": password, "initial_device_display_name": "example adapter"}
    if advertised:
        body["org.matrix.msc2912.device_signing"] = keys
    stages = {"m.login.dummy": {}}
    if command.get("registration_token"):
        stages["m.login.registration_token"] = {"token": command["registration_token"]}

    def register(auth):
        return request("POST", f"{hs}/_matrix/client/v3/register", {**body, **({"auth": auth} if auth else {})})

    try:
        answer = with_uia(register, stages)
    except MatrixError as error:
        return rejected(error)
    token, device_id, user_id = answer["access_token"], answer["device_id"], answer["user_id"]

    def own_keys():
        query = {"device_keys": {user_id: []}}
        return request("POST", f"{hs}/_matrix/client/v3/keys/query", query, token)

    def stored(answer):
        wanted = {"master_keys": master, "self_signing_keys": self_signing, "user_signing_keys": user_signing}
        for field, key in wanted.items():
            got = answer.get(field, {}).get(user_id, {}).get("keys", {})
            if list(got.values()) != [key.public]:
                return False
        return True

    if stored(own_keys()):
        emit("decision", decision="checked own keys: matched")
    else:
        emit("decision", decision="checked own keys: missing or different")
        password_stage = {
            "m.login.password": {"identifier": {"type": "m.id.user", "user": user_id}, "password": password}
        }

        def upload(auth):
            payload = {**keys, **({"auth": auth} if auth else {})}
            return request("POST", f"{hs}/_matrix/client/v3/keys/device_signing/upload", payload, token)

        try:
            with_uia(upload, password_stage)
        except MatrixError as error:
            return rejected(error)
        emit("decision", decision="re-uploaded keys with password")
        if not stored(own_keys()):
            emit("outcome", outcome="error", reason="homeserver", detail="keys still missing after re-upload")
            return

    device = {
        "user_id": user_id,
        "device_id": device_id,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": {
            f"curve25519:{device_id}": b64(x25519_public(device_curve)),
            f"ed25519:{device_id}": device_key.public,
        },
    }
    sign_json(device, user_id, f"ed25519:{device_id}", device_key.seed)
    request("POST", f"{hs}/_matrix/client/v3/keys/upload", {"device_keys": device}, token)
    sign_json(device, user_id, f"ed25519:{self_signing.public}", self_signing.seed)
    request("POST", f"{hs}/_matrix/client/v3/keys/signatures/upload", {user_id: {device_id: device}}, token)
    emit("decision", decision="signed own device")
    emit("outcome", outcome="success", detail=f"{user_id} registered with cross-signing keys")


def rejected(error):
    emit(
        "outcome",
        outcome="rejected",
        status=error.status,
        errcode=error.body.get("errcode", "M_UNKNOWN"),
        detail=str(error),
    )


# --- the QR-login roles: replace with calls into your SDK ------------------------


def new_device(hs, setup, command):
    unimplemented("the example adapter does not implement the new device (sign in with QR code)")


def existing_device(hs, setup, command):
    unimplemented("the example adapter does not implement the existing device (sign in with QR code)")


ROLES = {"registrar": registrar, "new-device": new_device, "existing-device": existing_device}


def self_test():
    """RFC 8032 test vector 1, and RFC 7748's X25519 test of Alice's key."""
    seed = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    assert ed25519_public(seed).hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    assert ed25519_sign(seed, b"").hex() == (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
        "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    alice = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    assert x25519_public(alice).hex() == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    print("self-test passed")


def main():
    if "--self-test" in sys.argv:
        self_test()
        return 0
    if os.environ.get("CONFORMANCE_PROTOCOL_VERSION") != "1":
        log("unsupported protocol version", os.environ.get("CONFORMANCE_PROTOCOL_VERSION"))
        return EXIT_UNIMPLEMENTED
    hs = os.environ["CONFORMANCE_HOMESERVER"].rstrip("/")
    role = os.environ["CONFORMANCE_ROLE"]
    log("scenario", os.environ.get("CONFORMANCE_SCENARIO"), "role", role, "homeserver", hs)
    emit("ready", implementation=IMPLEMENTATION)
    play = ROLES.get(role)
    if play is None:
        unimplemented(f"unknown role {role}")
    try:
        setup = next_command()
        if setup.get("command") != "setup":
            raise ValueError(f"expected setup, got {setup.get('command')}")
        start = next_command()
        play(hs, setup, start)
        next_command()  # waits for `stop` (or the end of stdin)
    except Stopped:
        pass
    except MatrixError as error:
        emit("outcome", outcome="error", reason="homeserver", detail=str(error))
    return 0


if __name__ == "__main__":
    sys.exit(main())
