"""Seeds a running trustid for the schemathesis run, and signs what a phone signs.

Used two ways:

* as a script (run.sh): creates a client and users with the `trustid` CLI,
  registers and binds devices over HTTP with real P-256 keys, runs full CIBA
  flows for tokens, leaves transactions pending, and writes everything the
  hooks need to a JSON state file;
* as a module (hooks.py): `proof()` makes a fresh device proof (`DPoP`) for
  each request.

The formats are those of src/crypto/device_jws.rs and openapi.yaml.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import time

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

CIBA_GRANT = "urn:openid:params:grant-type:ciba"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def key_to_hex(key: ec.EllipticCurvePrivateKey) -> str:
    return format(key.private_numbers().private_value, "064x")


def key_from_hex(text: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int(text, 16), ec.SECP256R1())


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64(numbers.x.to_bytes(32, "big")),
        "y": b64(numbers.y.to_bytes(32, "big")),
    }


def thumbprint(key: ec.EllipticCurvePrivateKey) -> str:
    """RFC 7638: the device id trustid gives a device key."""
    jwk = public_jwk(key)
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"))
    return b64(hashlib.sha256(canonical.encode()).digest())


def sign_jws(key: ec.EllipticCurvePrivateKey, header: dict, payload: dict) -> str:
    """Compact ES256 JWS with the raw r || s signature."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def proof(key: ec.EllipticCurvePrivateKey, method: str, url: str) -> str:
    """A fresh device proof for `method` on `url` (issuer + path, no query)."""
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(key)}
    payload = {"htm": method.upper(), "htu": url, "iat": int(time.time()), "jti": secrets.token_urlsafe(16)}
    return sign_jws(key, header, payload)


def decision(auth_key: ec.EllipticCurvePrivateKey, item: dict, verdict: str) -> str:
    payload = {
        "txn": item["transaction_id"],
        "nonce": item["nonce"],
        "decision": verdict,
        "bm_hash": b64(hashlib.sha256(item["binding_message"].encode()).digest()),
        "iat": int(time.time()),
    }
    return sign_jws(auth_key, {"typ": "trustid-decision+jwt", "alg": "ES256"}, payload)


class Seeder:
    def __init__(self, binary: str, base: str):
        self.binary = binary
        self.base = base.rstrip("/")
        self.http = requests.Session()

    def cli(self, *args: str) -> dict:
        out = subprocess.run([self.binary, *args, "--json"], check=True, capture_output=True, text=True)
        return json.loads(out.stdout)

    def check(self, res: requests.Response, status: int, what: str) -> dict:
        if res.status_code != status:
            sys.exit(f"seed: {what}: expected {status}, got {res.status_code}: {res.text}")
        return res.json() if res.content else {}

    def device(self, user: str) -> dict:
        """Registers a device over HTTP (proof of the device key) and binds it to `user`."""
        device_key, auth_key = new_key(), new_key()
        url = f"{self.base}/device/v1/devices"
        res = self.http.post(url, json={"auth_key": public_jwk(auth_key)}, headers={"DPoP": proof(device_key, "POST", url)})
        body = self.check(res, 201, "device registration")
        assert body["device_id"] == thumbprint(device_key), body
        self.cli("devices", "bind", "--device", body["device_id"], "--user", user)
        return {"id": body["device_id"], "device_key": key_to_hex(device_key), "auth_key": key_to_hex(auth_key)}

    def start(self, client: dict, user: str, scope: str, message: str) -> str:
        res = self.http.post(
            f"{self.base}/bc-authorize",
            auth=(client["client_id"], client["client_secret"]),
            data={"scope": scope, "login_hint": user, "binding_message": message, "requested_expiry": "1800"},
        )
        return self.check(res, 200, "backchannel request")["auth_req_id"]

    def inbox(self, device: dict) -> list[dict]:
        url = f"{self.base}/device/v1/inbox"
        res = self.http.get(url, headers={"DPoP": proof(key_from_hex(device["device_key"]), "GET", url)})
        return self.check(res, 200, "inbox")["transactions"]

    def decide(self, device: dict, item: dict, verdict: str) -> None:
        url = f"{self.base}/device/v1/transactions/{item['transaction_id']}/decision"
        jws = decision(key_from_hex(device["auth_key"]), item, verdict)
        res = self.http.post(
            url,
            json={"decision_jws": jws},
            headers={"DPoP": proof(key_from_hex(device["device_key"]), "POST", url)},
        )
        self.check(res, 200, "decision")

    def management_token(self, client: dict) -> str:
        res = self.http.post(
            f"{self.base}/token",
            auth=(client["client_id"], client["client_secret"]),
            data={"grant_type": "client_credentials", "scope": "trustid:manage"},
        )
        return self.check(res, 200, "management token")["access_token"]

    def tokens(self, client: dict, device: dict, user: str, message: str) -> dict:
        """A full poll flow: request, approval on the phone, tokens."""
        auth_req_id = self.start(client, user, "openid email phone offline_access", message)
        item = next(i for i in self.inbox(device) if i["binding_message"] == message)
        self.decide(device, item, "approve")
        res = self.http.post(
            f"{self.base}/token",
            auth=(client["client_id"], client["client_secret"]),
            data={"grant_type": CIBA_GRANT, "auth_req_id": auth_req_id},
        )
        return self.check(res, 200, "token")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="the trustid binary (its env names the database)")
    parser.add_argument("--base", required=True, help="the issuer, e.g. http://127.0.0.1:8080")
    parser.add_argument("--state", required=True, help="where to write the state for hooks.py")
    args = parser.parse_args()
    s = Seeder(args.bin, args.base)

    client = s.cli("clients", "add", "--name", "Schemathesis Bank")
    manager = s.cli("clients", "add", "--name", "Schemathesis Manager", "--management")
    management_token = s.management_token(manager)
    # `alice` is the user of the spec's examples (id, e-mail, phone, app,
    # user code), so example requests get real answers; her inbox grows with
    # every accepted request and is left alone. `carol` owns the device the
    # device API is exercised with; her transactions are only the seeded ones.
    s.cli(
        "users", "add", "--id", "alice", "--email", "alice@example.com", "--phone", "+4915112345678",
        "--app", "bank-app", "--user-code", "7341",
    )
    s.cli("users", "add", "--id", "carol", "--email", "carol@example.com", "--phone", "+4915100000003", "--app", "bank-app")
    s.device("alice")
    carol = s.device("carol")

    # Tokens: one set for /userinfo and /introspect, one to revoke, one to refresh.
    userinfo = s.tokens(client, carol, "carol", "Seed: userinfo")
    revoke = s.tokens(client, carol, "carol", "Seed: revoke")
    refresh = s.tokens(client, carol, "carol", "Seed: refresh")
    # Pending transactions: polled at /token, decided (badly) on the device.
    pending = [s.start(client, "carol", "openid", f"Seed: pending {i}") for i in range(2)]
    txns = [i["transaction_id"] for i in s.inbox(carol)]

    state = {
        "base": s.base,
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "registration_access_token": os.environ.get("TRUSTID_REGISTRATION_ACCESS_TOKEN"),
        "access_token": userinfo["access_token"],
        "refresh_token": userinfo["refresh_token"],
        "revocable": [revoke["access_token"], revoke["refresh_token"]],
        "refreshable": refresh["refresh_token"],
        "pending_auth_req_ids": pending,
        "pending_transaction_ids": txns,
        "device": carol,
        "management_token": management_token,
    }
    with open(args.state, "w") as f:
        json.dump(state, f, indent=2)
    print(f"seeded: client {client['client_id']}, users alice and carol, devices bound, {len(txns)} pending transactions")


if __name__ == "__main__":
    main()
