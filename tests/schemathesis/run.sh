#!/usr/bin/env bash
# Schemathesis against a live trustid: the contract (openapi.yaml, as the
# server serves it at /openapi.yaml) attacked by generated requests.
#
#   tests/schemathesis/run.sh [TRUSTID_BINARY]
#
# Builds nothing: the binary defaults to $CARGO_TARGET_DIR/debug/trustid
# (cargo test builds it). Needs python3 and schemathesis on PATH with
# requirements.txt installed, e.g. a venv's bin directory first in PATH.
#
# Starts `trustid serve` on a free loopback port with a temporary SQLite
# database and keys, seeds a client, users and bound devices (seed.py), then
# runs schemathesis with per-request authentication (hooks.py) and these
# checks: no 5xx, documented status codes, content types, headers and
# response schemas. Fails on any check failure, on a server panic, or when
# fewer than FUZZ_MIN_REQUESTS requests (default 5000) were sent. The
# failing seed is printed; FUZZ_SEED=<seed> replays a run.
#
# Knobs (not TRUSTID_*: the server reads every TRUSTID_* variable as a
# setting and refuses unknown ones):
#   FUZZ_SPEC          a spec file instead of the served one (an edited openapi.yaml)
#   FUZZ_MAX_EXAMPLES  test cases per operation and phase (default 600)
#   FUZZ_WORKERS       concurrent schemathesis workers (default 2)
#   FUZZ_SEED          random seed (default: a new one each run)
#   FUZZ_MIN_REQUESTS  fewest requests that count as a run (default 5000)
#   FUZZ_KEEP=1        keep the work directory (server log, state, JUnit report)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
target="${CARGO_TARGET_DIR:-$here/../../target}"
bin="$(realpath "${1:-$target/debug/trustid}")"
max_examples="${FUZZ_MAX_EXAMPLES:-600}"
workers="${FUZZ_WORKERS:-2}"
min_requests="${FUZZ_MIN_REQUESTS:-5000}"
seed="${FUZZ_SEED:-$RANDOM}"

[ -x "$bin" ] || { echo "run.sh: no trustid binary at $bin (run cargo build or cargo test first)" >&2; exit 2; }
command -v schemathesis >/dev/null || { echo "run.sh: schemathesis is not on PATH (pip install -r $here/requirements.txt)" >&2; exit 2; }

work="$(mktemp -d -t trustid-schemathesis.XXXXXX)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "${FUZZ_KEEP:-0}" = 1 ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
export TRUSTID_LISTEN="127.0.0.1:$port"
export TRUSTID_ISSUER="$base"
export TRUSTID_DATABASE_URL="sqlite://$work/trustid.db"
export TRUSTID_KEYS_DIR="$work/keys"
export TRUSTID_DEV=true
export TRUSTID_USER_REQUESTS_PER_MINUTE=1000000
export TRUSTID_CLIENT_REQUESTS_PER_MINUTE=1000000
# No lockout: the fuzzed device fails decisions all the time and must stay
# usable (the lockout policy has its own tests).
export TRUSTID_DEVICE_LOCKOUT_THRESHOLD=0
export TRUSTID_USER_LOCKOUT_THRESHOLD=0
# Nor a client-authentication throttle: the fuzzer sends thousands of bad
# credentials from one address, and refused or held answers would hide the
# endpoints behind them (the throttle has its own tests).
export TRUSTID_CLIENT_AUTH_FAILURES_PER_ADDRESS=0
export TRUSTID_REGISTRATION_ACCESS_TOKEN="schemathesis-initial-access-token-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
export TRUSTID_LOG="${TRUSTID_LOG:-warn}"
# Runs from the work directory: no trustid.toml is picked up, and
# schemathesis/hypothesis leave nothing in the repository.
cd "$work"

"$bin" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('$base/.well-known/openid-configuration', timeout=1)" 2>/dev/null; then
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || { echo "run.sh: trustid did not start:" >&2; cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done

python3 "$here/seed.py" --bin "$bin" --base "$base" --state "$work/state.json"

export FUZZ_STATE="$work/state.json"
export FUZZ_COUNTS="$work/counts.json"
export FUZZ_SEED="$seed"
export SCHEMATHESIS_HOOKS=hooks
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the repository

spec="${FUZZ_SPEC:-$base/openapi.yaml}"
# The SSE stream never ends by design, so every generated request would run
# into the timeout; its contract is held by tests/api/inbox.rs and
# tests/api/responses_conform.rs instead.
echo "schemathesis: $spec, seed $seed, up to $max_examples examples per operation and phase, $workers workers"
status=0
schemathesis run "$spec" \
  --url "$base" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-examples "$max_examples" \
  --workers "$workers" \
  --seed "$seed" \
  --generation-database none \
  --request-timeout 10 \
  --exclude-path /device/v1/inbox/stream \
  --no-color \
  --report junit --report-junit-path "$work/junit.xml" || status=$?

failed=0
if [ "$status" -ne 0 ]; then
  echo "run.sh: schemathesis failed (exit $status)" >&2
  failed=1
fi
if grep -q "panicked" "$work/server.log"; then
  echo "run.sh: the server panicked:" >&2
  grep -A3 "panicked" "$work/server.log" >&2
  failed=1
fi
if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "run.sh: the server is no longer running" >&2
  failed=1
fi
total="$(python3 - "$work/counts.json" <<'EOF'
import collections, json, os, sys
counts = json.load(open(sys.argv[1])) if os.path.exists(sys.argv[1]) else {}
ops = collections.defaultdict(dict)
for key, n in counts.items():
    method, path, status = key.split(" ")
    ops[f"{method} {path}"][status] = n
print("requests per operation (by status):", file=sys.stderr)
undocumented = sum(sum(s.values()) for s in ops.values() if set(s) == {"405"})
for op, statuses in sorted(ops.items(), key=lambda kv: -sum(kv[1].values())):
    if set(statuses) != {"405"}:
        detail = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
        print(f"  {sum(statuses.values()):6d}  {op}  ({detail})", file=sys.stderr)
print(f"  {undocumented:6d}  undocumented methods (405)", file=sys.stderr)
print(sum(counts.values()))
EOF
)"
echo "requests sent: $total (minimum $min_requests)"
if [ "$total" -lt "$min_requests" ]; then
  echo "run.sh: too few requests ($total < $min_requests)" >&2
  failed=1
fi
if [ "$failed" -ne 0 ]; then
  echo "run.sh: FAILED (seed $seed; server log: $( [ "${FUZZ_KEEP:-0}" = 1 ] && echo "$work/server.log" || echo "set FUZZ_KEEP=1 to keep it"))" >&2
  exit 1
fi
echo "run.sh: passed"
