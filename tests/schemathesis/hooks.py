"""Schemathesis hooks for trustid (loaded through SCHEMATHESIS_HOOKS=hooks).

Authentication is supplied per operation, in `before_call`, because the
device API needs a fresh proof for every request (single-use `jti`, `htu`
naming the concrete path, `iat` within the clock skew):

* `/bc-authorize`, `/token`, `/introspect`, `/revoke`: HTTP Basic with the
  seeded client;
* `/userinfo`: `Bearer` with a live access token;
* `/register`: `Bearer` with the initial access token;
* `/manage/v1/...`: `Bearer` with a management (client_credentials) token;
* `/device/v1/...`: a `DPoP` proof signed with the seeded device key (for
  registration, sometimes with a fresh key).

About one request in eight keeps what schemathesis generated instead, so
missing and malformed credentials are exercised too. Some requests get live
values from the seeding (a pending `auth_req_id`, a pending transaction id,
real tokens) so they reach the checks behind the lookups.

`after_call` counts requests per operation and status; the counts go to
`$FUZZ_COUNTS` when the run ends, for run.sh to check the total.
"""

from __future__ import annotations

import atexit
import base64
import collections
import json
import os
import random
import threading

import schemathesis

from seed import key_from_hex, new_key, proof

STATE = json.load(open(os.environ["FUZZ_STATE"]))
DEVICE_KEY = key_from_hex(STATE["device"]["device_key"])
BASIC = "Basic " + base64.b64encode(f"{STATE['client_id']}:{STATE['client_secret']}".encode()).decode()
CLIENT_PATHS = {"/bc-authorize", "/token", "/introspect", "/revoke"}
KEEP_GENERATED = 1 / 8

_rng = random.Random(os.environ.get("FUZZ_SEED", "trustid"))
_lock = threading.Lock()
_counts: collections.Counter[str] = collections.Counter()


def _chance(p: float) -> bool:
    with _lock:
        return _rng.random() < p


def _pick(values: list[str]) -> str:
    with _lock:
        return _rng.choice(values)


def _set_header(case, name: str, value: str) -> None:
    headers = dict(case.headers or {})
    for existing in [k for k in headers if k.lower() == name.lower()]:
        del headers[existing]
    headers[name] = value
    case.headers = headers


def _set_body_field(case, name: str, value: str) -> None:
    if isinstance(case.body, dict) and name in case.body:
        body = dict(case.body)
        body[name] = value
        case.body = body


@schemathesis.hook
def before_call(context, case, kwargs):
    path = case.operation.path
    method = case.method.upper()
    if path in CLIENT_PATHS:
        if not _chance(KEEP_GENERATED):
            _set_header(case, "Authorization", BASIC)
        if path == "/token" and isinstance(case.body, dict):
            grant = case.body.get("grant_type")
            if grant == "urn:openid:params:grant-type:ciba" and _chance(0.3):
                _set_body_field(case, "auth_req_id", _pick(STATE["pending_auth_req_ids"]))
            elif grant == "refresh_token" and _chance(0.3):
                _set_body_field(case, "refresh_token", STATE["refreshable"])
        elif path == "/introspect" and _chance(0.3):
            _set_body_field(case, "token", _pick([STATE["access_token"], STATE["refresh_token"]]))
        elif path == "/revoke" and _chance(0.1):
            _set_body_field(case, "token", _pick(STATE["revocable"]))
    elif path == "/userinfo":
        if not _chance(KEEP_GENERATED):
            _set_header(case, "Authorization", f"Bearer {STATE['access_token']}")
    elif path == "/register":
        if STATE.get("registration_access_token") and not _chance(KEEP_GENERATED):
            _set_header(case, "Authorization", f"Bearer {STATE['registration_access_token']}")
    elif path.startswith("/manage/v1/"):
        if not _chance(KEEP_GENERATED):
            _set_header(case, "Authorization", f"Bearer {STATE['management_token']}")
        # A static password costs an argon2 hash; keep a few, not hundreds.
        if path.endswith("/users/register") and isinstance(case.body, dict) and not _chance(0.1):
            case.body = {k: v for k, v in case.body.items() if k != "staticPassword"}
        # A valid check-status timeout long-polls for real (up to 120 s);
        # keep the wait short so the run stays bounded, out-of-range values as they are.
        if path.endswith("/check-status") and isinstance(case.body, dict):
            wait = case.body.get("timeoutSeconds")
            if isinstance(wait, int) and not isinstance(wait, bool) and 1 <= wait <= 120:
                case.body = {**case.body, "timeoutSeconds": 1}
    elif path.startswith("/device/v1/"):
        # A valid `wait` long-polls for real (up to 30 s): keep it short.
        if path == "/device/v1/inbox" and isinstance(case.query, dict):
            wait = case.query.get("wait")
            if isinstance(wait, int) and not isinstance(wait, bool) and 1 <= wait <= 30:
                case.query = {**case.query, "wait": 1}
        if path.endswith("/decision") and _chance(0.5):
            case.path_parameters = {**(case.path_parameters or {}), "id": _pick(STATE["pending_transaction_ids"])}
        if not _chance(KEEP_GENERATED):
            key = new_key() if path == "/device/v1/devices" and _chance(0.5) else DEVICE_KEY
            _set_header(case, "DPoP", proof(key, method, STATE["base"] + case.formatted_path))


@schemathesis.hook
def after_call(context, case, response):
    with _lock:
        _counts[f"{case.method.upper()} {case.operation.path} {response.status_code}"] += 1


@atexit.register
def _write_counts() -> None:
    target = os.environ.get("FUZZ_COUNTS")
    if target:
        with _lock, open(target, "w") as f:
            json.dump(dict(_counts), f, indent=2, sort_keys=True)
