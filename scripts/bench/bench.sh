#!/usr/bin/env bash
# Benchmark the service against a bare axum handler, then under overload. Not a test: it prints figures.
#   scripts/bench/bench.sh                      # SQLite, 100 000 users, 10 s per run; overload on moto
#   scripts/bench/bench.sh --backend dynamodb   # against moto on 127.0.0.1 (an emulator, not AWS)
#   scripts/bench/bench.sh --no-overload        # without the overload figures (and without moto on SQLite)
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"
ensure_apt wrk wrk

args=("$@")
# The overload figures always run on DynamoDB (moto): a store-bound capacity that one core of load
# generator can exceed five times over, which the SQLite path's is not.
if [[ " $* " == *" --backend dynamodb "* || " $* " != *" --no-overload "* ]]; then
  port="$(free_port)"
  start_moto "$port" "$(mktemp)"
  trap 'kill "$MOTO_PID" 2>/dev/null' EXIT
  args+=(--moto-port "$port" --moto-pid "$MOTO_PID")
fi
python3 scripts/bench/bench.py "${args[@]}"
