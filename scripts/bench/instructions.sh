#!/usr/bin/env bash
# Instructions per request under valgrind's callgrind (repeatable on a busy machine). Not a test: it prints figures.
#   scripts/bench/instructions.sh                                   # SQLite GET, the release build
#   scripts/bench/instructions.sh --backend postgres --method PUT   # a PostgreSQL server on 127.0.0.1
#   scripts/bench/instructions.sh --binary ../before/target/release/hello-birthday --binary target/release/hello-birthday
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"
ensure_apt valgrind valgrind
[[ " $* " != *" postgres "* ]] || ensure_postgres
# Its own process group: on Ctrl-C or SIGTERM the measurement and the service under valgrind stop together.
run_group python3 -m harness.instructions "$@"
