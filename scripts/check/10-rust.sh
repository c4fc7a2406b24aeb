#!/usr/bin/env bash
# Format, lint, and every Rust test: unit, router, black-box binary, store conformance and
# import/export, the DynamoDB ones against one local emulator (moto) started here.
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
trap 'kill "$MOTO_PID" 2>/dev/null || true; rm -f "$moto_log"' EXIT
export HELLO_BIRTHDAY_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$moto_port"

log "cargo test (DynamoDB tests on moto at $HELLO_BIRTHDAY_TEST_DYNAMODB_ENDPOINT)"
cargo test --locked --all-targets
