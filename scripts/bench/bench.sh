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
  moto_log="$(mktemp)"
  on_exit "rm -f '$moto_log'"
  # shellcheck disable=SC2016 # expanded when the script ends: start_moto sets MOTO_PID
  on_exit 'kill "${MOTO_PID:-}" 2>/dev/null && wait "$MOTO_PID" 2>/dev/null'
  start_moto "$port" "$moto_log"
  args+=(--moto-port "$port" --moto-pid "$MOTO_PID")
fi
# Its own process group: on Ctrl-C or SIGTERM the benchmark, the service and the load generators all stop.
run_group python3 -m harness.bench "${args[@]}"
