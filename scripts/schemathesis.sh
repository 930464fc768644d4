#!/usr/bin/env bash
# Fuzzes the REST API against its own OpenAPI document: starts a gateway (embedded backend, a
# temporary data directory, a free port), runs schemathesis (pinned; .ci/run installs it) with
# every check, the stateful phase included (OpenAPI links carry a created consumer instance to its
# routes), and fails on any finding. Bounds and the few per-operation exceptions (each with its
# reason) are in scripts/schemathesis.toml: about 2 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

want="4.32.5"
have="$(st --version 2>/dev/null | awk '{print $NF}')" || true
if [ "$have" != "$want" ]; then
  echo "FATAL: schemathesis $want is required (found: ${have:-none}); pip install schemathesis==$want" >&2
  exit 1
fi

data="$(mktemp -d /tmp/streamgate-schemathesis-XXXXXX)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$data/gateway.log"
gateway_pid=""
cleanup() {
  if [ -n "$gateway_pid" ]; then
    kill "$gateway_pid" 2>/dev/null || true
    wait "$gateway_pid" 2>/dev/null || true
  fi
  rm -rf "$data"
}
trap cleanup EXIT

# Long polls are capped short (rest.maxPollWaitMs, rest.consumerRequestTimeoutMs) so the run spends
# its time on requests, not on waits; an SSE stream is read until --request-timeout ends it.
STREAMGATE_REST_MAX_POLL_WAIT_MS=300 STREAMGATE_REST_CONSUMER_REQUEST_TIMEOUT_MS=300 \
STREAMGATE_DATA_DIR="$data/db" STREAMGATE_HOST=127.0.0.1 STREAMGATE_HTTP_PORT="$port" STREAMGATE_MQTT_PORT=0 STREAMGATE_GRPC_PORT=0 STREAMGATE_LOG_LEVEL=info \
  node --import tsx app/main.ts >"$log" 2>&1 &
gateway_pid=$!

deadline=$((SECONDS + 60))
# python3 rather than curl: it is on the CI machine already (schemathesis needs it).
healthy() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "http://127.0.0.1:$port/healthz" 2>/dev/null; }
until healthy; do
  if ! kill -0 "$gateway_pid" 2>/dev/null; then
    echo "FATAL: the gateway exited before it was ready:" >&2
    cat "$log" >&2
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "FATAL: the gateway did not answer /healthz within 60 s" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.2
done

# Every check runs (schemathesis' default; `--checks all` on the command line would also override
# the few per-operation exceptions scripts/schemathesis.toml makes, each with its reason there).
status=0
# A fixed seed (SCHEMATHESIS_SEED to vary it) makes a CI run reproducible: a finding fails every
# run of that commit, and `st` prints the curl line that reproduces it.
# From the temporary directory: schemathesis keeps a cache in its working directory.
(cd "$data" && st --config-file "$root/scripts/schemathesis.toml" run "http://127.0.0.1:$port/openapi.json" \
  --phases examples,coverage,fuzzing,stateful \
  --workers 1 \
  --request-timeout 2 \
  --generation-database none \
  --seed "${SCHEMATHESIS_SEED:-20261202}" \
  --no-color) || status=$?

# A finding is a failure; so is a gateway that logged an error (a fault, not a refusal) or died.
if grep -q '"level":50' "$log"; then
  echo "FAIL: the gateway logged errors during the run:" >&2
  grep '"level":50' "$log" | head -n 20 >&2
  status=1
fi
if ! kill -0 "$gateway_pid" 2>/dev/null; then
  echo "FAIL: the gateway exited during the run" >&2
  status=1
fi
exit "$status"
