#!/usr/bin/env bash
# Runs `benecafe-sim conform` against each reference partner (Node, Python, Java) in turn, on
# the shipped vendor VR000301 (GATE http://localhost:3000/gate, AES-128-CBC parameter
# encryption, whoamiUrl /whoami). Exit 0 only when every partner passes every case.
# Usage: examples/conform-all.sh [path to benecafe-sim] [report folder]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sim="${1:-$here/../target/release/benecafe-sim}"
out="${2:-$(mktemp -d)}"
mkdir -p "$out"
data="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$data"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 1 150); do curl -s -o /dev/null "$1" && return 0; sleep 0.2; done; echo "no answer from $1" >&2; return 1; }

# The local CA the partners trust: made by a first start of the simulator.
https=$(free_port); http=$(free_port)
"$sim" --data-dir "$data" --https-addr "127.0.0.1:$https" --http-addr "127.0.0.1:$http" --log warn &
first=$!
wait_http "http://127.0.0.1:$http/_sim/healthz"
kill "$first"; wait "$first" 2>/dev/null || true

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
  echo "== conform: $partner"
  if ! "$sim" conform --vendor VR000301 --data-dir "$data" \
      --https-addr 127.0.0.1:0 --http-addr 127.0.0.1:0 --log warn \
      --junit "$out/$partner.xml" --html "$out/$partner.html"; then
    failed=1
    echo "-- $partner's log:"; tail -n 20 "$out/$partner.log"
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
exit "$failed"
