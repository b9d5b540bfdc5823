#!/usr/bin/env bash
# Runs `benecafe-sim conform` against each reference partner (Node, Python, Java) in turn, on
# the shipped vendor VR000301 (GATE http://localhost:3000/gate, AES-128-CBC parameter
# encryption, whoamiUrl /whoami). Exit 0 only when every partner passes every case.
#
# By default `conform` starts a simulator of its own for each partner. With --against, one
# simulator is started first, on free ports and with a control token, every partner is tested
# through `conform --against` it (its control API runs the cases), and it is stopped by its PID
# at the end.
# Usage: examples/conform-all.sh [--against] [path to benecafe-sim] [report folder]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
against=0
if [ "${1:-}" = "--against" ]; then against=1; shift; fi
sim="${1:-$here/../target/release/benecafe-sim}"
out="${2:-$(mktemp -d)}"
mkdir -p "$out"
data="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$data"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 150); do curl -s -o /dev/null "$1" && return 0; sleep 0.2; done; echo "no answer from $1" >&2; return 1; }

# The local CA the partners trust: made by a first start of the simulator, which with --against
# keeps running for the runs.
https=$(free_port); http=$(free_port)
token="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
"$sim" --data-dir "$data" --https-addr "127.0.0.1:$https" --http-addr "127.0.0.1:$http" \
  --control-token "$token" --log warn > "$out/simulator.log" 2>&1 &
first=$!; pids+=("$first")
wait_http "http://127.0.0.1:$http/_sim/healthz"
if [ "$against" = 0 ]; then kill "$first"; wait "$first" 2>/dev/null || true; fi

export PORT=3000 VNDR_NO=VR000301 SIM_CA="$data/ca.pem"
export PARAM_ENC_SCHEME=AES-128-CBC PARAM_ENC_KEY=62656e65636166652d73696d2d6b6579
failed=0
for partner in node python java; do
  case "$partner" in
    node) cmd=(node "$here/node/partner.mjs") ;;
    python) cmd=(python3 "$here/python/partner.py") ;;
    java) cmd=(java "$here/java/Partner.java") ;;
  esac
  "${cmd[@]}" > "$out/$partner.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_http "http://127.0.0.1:3000/whoami"
  if [ "$against" = 1 ]; then
    echo "== conform --against: $partner"
    run=("$sim" conform --against "http://127.0.0.1:$http" --control-token "$token")
  else
    echo "== conform: $partner"
    run=("$sim" conform --data-dir "$data" --log warn)
  fi
  if ! "${run[@]}" --vendor VR000301 --junit "$out/$partner.xml" --html "$out/$partner.html"; then
    failed=1
    echo "-- $partner's log:"; tail -n 20 "$out/$partner.log"
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
if [ "$against" = 1 ]; then kill "$first"; wait "$first" 2>/dev/null || true; fi
exit "$failed"
