#!/usr/bin/env bash
# Format, lint, and every Rust test: unit, router, black-box binary, store conformance and
# import/export, the DynamoDB ones against one local emulator (moto) and the PostgreSQL ones against one
# real server (Debian's postgresql, installed on first use), both started here.
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"

for component in rustfmt clippy; do
  cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1 || rustup component add "$component"
done

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

# One emulator (installed on first use) for every test binary; each test makes its own table.
moto_port="$(free_port)"
moto_log="$(mktemp)"
start_moto "$moto_port" "$moto_log"
on_exit 'kill "$MOTO_PID" 2>/dev/null || true; rm -f "$moto_log"'
export HELLO_BIRTHDAY_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$moto_port"

# One PostgreSQL server (each test makes its own database; tests that stop or freeze a server start their own).
postgres_port="$(free_port)"
postgres_dir="$(mktemp -d)"
on_exit 'rm -rf "$postgres_dir"'
start_postgres "$postgres_port" "$postgres_dir" "$postgres_dir/server.log"
on_exit 'kill -INT "$POSTGRES_PID" 2>/dev/null && wait "$POSTGRES_PID" 2>/dev/null || true'
export HELLO_BIRTHDAY_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$postgres_port/postgres"

log "cargo test (DynamoDB tests on moto at $HELLO_BIRTHDAY_TEST_DYNAMODB_ENDPOINT, PostgreSQL tests on 127.0.0.1:$postgres_port)"
cargo test --locked --all-targets
