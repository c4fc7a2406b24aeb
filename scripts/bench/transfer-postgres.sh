#!/usr/bin/env bash
# Import and export of N users (default 1 000 000) on a local PostgreSQL server with its default durability
# (fsync on), with the release binary: wall time and peak RSS of each, and a check that the export holds
# exactly what was imported. The figures are in docs/import-benchmark.md.
#   scripts/bench/transfer-postgres.sh [USERS]
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"

users="${1:-1000000}"
binary="$ROOT/target/release/hello-birthday"
[ -x "$binary" ] || die "build it first: cargo build --release --locked"
ensure_apt /usr/bin/time time
work="$(mktemp -d)"
on_exit 'rm -rf "$work"'
port="$(free_port)"
start_postgres "$port" "$work" "$work/server.log" durable
on_exit 'kill -INT "$POSTGRES_PID" 2>/dev/null && wait "$POSTGRES_PID" 2>/dev/null || true'
url="postgres://postgres@127.0.0.1:$port/postgres"

log "generating $users users"
python3 scripts/bench/gen-users.py "$users" >"$work/users.json"
"$binary" create-table --database-url "$url" >/dev/null

# measure NAME CMD...: runs CMD under GNU time, prints "NAME: <wall> s, peak RSS <KB> KB" and CMD's stdout.
measure() {
  local name="$1"; shift
  /usr/bin/time -f "$name: %e s, peak RSS %M KB" -o "$work/time" "$@"
  cat "$work/time" >&2
}

measure "import into an empty table" "$binary" import "$work/users.json" --database-url "$url"
measure "import again (every user updated)" "$binary" import "$work/users.json" --database-url "$url"
measure "export" "$binary" export --database-url "$url" >"$work/backup.json"
python3 - "$work/users.json" "$work/backup.json" <<'EOF'
import json, sys
original, backup = (json.load(open(path)) for path in sys.argv[1:])
assert original == backup, "the export differs from what was imported"
print(f"export == import: {len(backup)} users")
EOF
