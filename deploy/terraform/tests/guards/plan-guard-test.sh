#!/usr/bin/env bash
# .github/scripts/plan-guard.sh against plans in the shape of `terraform show -json`: benign-plan.json (a production
# plan that updates the global table in place, re-creates a key that is not a table's, adds and removes alarms)
# must pass, and each dangerous variant of it, made below with jq, must be refused, unless ALLOW_DATA_REPLACEMENT
# names exactly what it refuses (for that root, in the workflow). A plan file stands in for a real plan: moto has no global-table replicas, so no
# emulated plan can show a replica being re-created. Wall time: under a second.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
guard="$here/../../../../.github/scripts/plan-guard.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
table='module.data.aws_dynamodb_table.this'

variant() { jq "$2" "$here/benign-plan.json" >"$work/$1.json"; }
variant replica-key '.resource_changes[0].change.after.replica[0].kms_key_arn = "arn:aws:kms:eu-central-1:123456789012:key/22222222-2222-2222-2222-222222222222"'
variant replica-key-unknown 'del(.resource_changes[0].change.after.replica[0].kms_key_arn) | .resource_changes[0].change.after_unknown.replica[0].kms_key_arn = true'
variant replica-removed '.resource_changes[0].change.after.replica = []'
variant replicas-unknown '.resource_changes[0].change.after.replica = null | .resource_changes[0].change.after_unknown.replica = true'
variant table-replaced '.resource_changes[0].change.actions = ["delete", "create"]'
variant table-deleted '.resource_changes[0].change.actions = ["delete"]'
variant region-key-replaced '.resource_changes[1].change.actions = ["create", "delete"]'
variant staging-key-deleted '.resource_changes[1].address = "module.stack.module.data[0].module.key[0].aws_kms_key.this" | .resource_changes[1].change.actions = ["delete"]'

fail=0
expect() { # expect STATUS PLAN ALLOW [TEXT]: exit status, and TEXT in the output
  local want="$1" plan="$2" allow="$3" text="${4:-}" status=0 out
  out="$(ALLOW_DATA_REPLACEMENT="$allow" "$guard" "$plan" 2>&1)" || status=$?
  if [ "$status" -ne "$want" ] || [[ "$out" != *"$text"* ]]; then
    echo "FAIL plan-guard.sh ${plan##*/} (ALLOW_DATA_REPLACEMENT='$allow'): exit $status, want $want${text:+ and \"$text\"}; output:" >&2
    echo "$out" >&2
    fail=1
  fi
}
expect 0 "$here/benign-plan.json" "" "no table, replica or table key"
expect 1 "$work/replica-key.json" "" "REFUSED: $table/replica/eu-central-1 replica re-created"
expect 1 "$work/replica-key-unknown.json" "" "REFUSED: $table/replica/eu-central-1 replica re-created"
expect 1 "$work/replica-removed.json" "" "REFUSED: $table/replica/eu-central-1 replica removed"
expect 1 "$work/replicas-unknown.json" "" "REFUSED: $table/replica/eu-central-1 replicas known only after apply"
expect 1 "$work/table-replaced.json" "" "REFUSED: $table replaced"
expect 1 "$work/table-deleted.json" "" "REFUSED: $table deleted"
expect 1 "$work/region-key-replaced.json" "" "REFUSED: module.stack.module.table_key[0].aws_kms_key.this replaced"
expect 1 "$work/staging-key-deleted.json" "" "REFUSED: module.stack.module.data[0].module.key[0].aws_kms_key.this deleted"
# The override lets through exactly what it names, for the run it is given to.
expect 0 "$work/replica-key.json" "$table/replica/eu-central-1" "ALLOWED for this run"
expect 0 "$work/table-replaced.json" "other-address, $table" "ALLOWED for this run"
expect 1 "$work/replica-key.json" "$table" "REFUSED"
expect 1 "$work/replica-key.json" "$table/replica/eu-north-1" "REFUSED"
# In the workflow each root's names carry its id, so allowing one region's key does not allow every region's.
PLAN_GUARD_ROOT=production-eu-west-1 expect 0 "$work/region-key-replaced.json" "production-eu-west-1:module.stack.module.table_key[0].aws_kms_key.this" "ALLOWED"
PLAN_GUARD_ROOT=production-eu-central-1 expect 1 "$work/region-key-replaced.json" "production-eu-west-1:module.stack.module.table_key[0].aws_kms_key.this" "REFUSED: production-eu-central-1:module.stack"
expect 2 "$work/missing.json" ""
[ "$fail" -eq 0 ] && echo "plan-guard.sh: refuses every data-losing plan and passes the benign one (16 cases)"
exit "$fail"
