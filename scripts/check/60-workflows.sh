#!/usr/bin/env bash
# GitHub Actions workflows and the operations docs they (and the alarms) point to.
#  - actionlint (with shellcheck on every run: block) and shellcheck on .github/scripts: no finding;
#  - zizmor, offline (no GitHub API call), default "regular" persona: no finding; accepted exceptions are
#    `# zizmor: ignore[...]` comments next to the line, each with its reason;
#  - every third-party action is pinned by a full commit SHA with the release it came from in a comment;
#  - every link to docs/operations/*.md#anchor, from the Terraform (alarm descriptions), the workflows, their scripts
#    and the docs themselves, names a heading that exists, so an alarm never sends someone to a missing section;
#  - every `vars.*` the workflows read is a row of the variables table in docs/operations/deployments.md, every row
#    is read by a workflow, and every Terraform output a row names exists in the root(s) it names.
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"

ensure_apt shellcheck shellcheck
actionlint_bin="$(ensure_venv actionlint)"
zizmor_bin="$(ensure_venv zizmor)"

status=0
finding() { printf '\033[1;31m%s\033[0m\n' "$*" >&2; status=1; }

log "actionlint $("$actionlint_bin/actionlint" --version | sed -n 1p)"
"$actionlint_bin/actionlint" -shellcheck "$(command -v shellcheck)" || finding "actionlint found problems"
shellcheck .github/scripts/*.sh deploy/terraform/first-deployment.sh deploy/terraform/pending-subscriptions.sh deploy/terraform/tests/guards/*.sh deploy/terraform/tests/smoke/workflows.sh deploy/terraform/tests/smoke/stubs/{docker,skopeo} deploy/terraform/tests/smoke/pipeline-stubs/terraform ||
  finding "shellcheck found problems in .github/scripts or the first-deployment scripts"

log "$("$zizmor_bin/zizmor" --version)"
"$zizmor_bin/zizmor" --offline --no-progress --color never .github/workflows || finding "zizmor found problems"

log "action pins"
# uses: owner/repo[/path]@<40 hex> # vX.Y.Z   (local ./ workflows and docker:// excepted)
bad_pins="$(grep -nE '^\s*(-\s*)?uses:' .github/workflows/*.yml |
  grep -vE 'uses:\s*\./' |
  grep -vE 'uses:\s*[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}\s+#\s*v[0-9]+(\.[0-9]+)*\b' || true)"
[ -z "$bad_pins" ] || finding "actions not pinned as 'owner/repo@<full SHA> # vX.Y.Z':"$'\n'"$bad_pins"

log "links into docs/operations"
python3 scripts/check/workflows/doc_links.py || finding "links to missing sections of docs/operations"

log "workflow variables against the Terraform outputs"
python3 scripts/check/workflows/workflow_vars.py || finding "workflow variables and docs/operations/deployments.md#github-configuration disagree"

[ "$status" -eq 0 ] || exit 1
log "workflows clean"
