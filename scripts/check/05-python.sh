#!/usr/bin/env bash
# Python: every .py file of the repository (ruff.toml says which rules and why) is lint-clean and formatted as
# `ruff format` writes it. ruff honours .gitignore, so .tools/ and target/ are not read.
# Fix with: .tools/venvs/ruff/bin/ruff check --fix . && .tools/venvs/ruff/bin/ruff format .
# Wall time: under a second (the first run installs ruff into .tools/venvs/ruff, about 10 s).
set -euo pipefail
# shellcheck source=../lib/tools.sh
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"

ruff="$(ensure_venv ruff)/ruff"
log "$("$ruff" --version): check and format --check"
status=0
"$ruff" check --no-cache . || status=1
"$ruff" format --no-cache --check --diff . || status=1
[ "$status" -eq 0 ] || die "ruff found problems (fix: ruff check --fix . && ruff format .)"
log "python clean"
