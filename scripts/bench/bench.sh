#!/usr/bin/env bash
# Benchmark the service against a bare axum handler. Not a test: it prints figures.
#   scripts/bench/bench.sh                      # SQLite, 100 000 users, 10 s per run
#   scripts/bench/bench.sh --backend dynamodb   # against moto on 127.0.0.1 (an emulator, not AWS)
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"
ensure_apt wrk wrk

args=("$@")
if [[ " $* " == *" --backend dynamodb "* ]]; then
  port="$(free_port)"
  start_moto "$port" "$(mktemp)"
  trap 'kill "$MOTO_PID" 2>/dev/null' EXIT
  args+=(--moto-port "$port")
fi
python3 scripts/bench/bench.py "${args[@]}"
