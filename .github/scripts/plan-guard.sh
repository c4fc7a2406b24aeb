#!/usr/bin/env bash
# Refuses a Terraform plan that would lose users' data: any delete or replacement of a DynamoDB table or of a table's
# KMS key (modules/table-key, or the key modules/data makes), and any update of a table that removes a replica or
# changes a replica's kms_key_arn (the provider deletes that replica and creates it again: its data in that region and
# its point-in-time recovery history go with it). The lifecycle guards in modules/data and modules/table-key cannot
# see the replica cases, which are updates of the table to Terraform; the key of a replica comes from another root's
# state, so replacing a region's key turns the next global plan into exactly such an update.
#
#   terraform show -json tfplan > plan.json && .github/scripts/plan-guard.sh plan.json
#
# ALLOW_DATA_REPLACEMENT: what an operator allows for this one run, by the names this script prints (a resource
# address, or ADDRESS/replica/REGION, prefixed with PLAN_GUARD_ROOT: when that is set, since every region's root has
# the same addresses), separated by spaces or commas; the infra workflow takes it from its manual run's input, never
# from a standing variable, and sets PLAN_GUARD_ROOT to the root's id (staging, production-REGION, production-global). Exit 0: nothing to refuse (or all of it allowed); 1: refused; 2: usage.
set -euo pipefail

plan="${1:?usage: plan-guard.sh PLAN_JSON}"
[ -r "$plan" ] || { echo "plan-guard: cannot read $plan" >&2; exit 2; }

# One line per finding: NAME<TAB>WHY.
findings="$(jq -r '
  def table_key: .type == "aws_kms_key" and (.address | test("(^|\\.)module\\.(table_key|key)(\\[[^]]+\\])?\\.aws_kms_key\\."));
  def deletes: (.change.actions | index("delete")) != null;
  .resource_changes[]?
  | . as $rc
  | if (.type == "aws_dynamodb_table" or table_key) and deletes then
      "\(.address)\t\(if (.change.actions | length) > 1 then "replaced (deleted and created again)" else "deleted" end)"
    elif .type == "aws_dynamodb_table" and ((.change.actions | index("update")) != null) then
      (.change.after.replica) as $after
      | (.change.before.replica // [])[]
      | . as $old
      | ([($after // [])[] | select(.region_name == $old.region_name)] | first) as $new
      | if $after == null then
          "\($rc.address)/replica/\($old.region_name)\treplicas known only after apply: the replica may be deleted or re-created"
        elif $new == null then
          "\($rc.address)/replica/\($old.region_name)\treplica removed: its data and point-in-time recovery history in \($old.region_name) are deleted"
        elif $new.kms_key_arn != $old.kms_key_arn then
          "\($rc.address)/replica/\($old.region_name)\treplica re-created (kms_key_arn \($old.kms_key_arn) -> \($new.kms_key_arn // "known after apply")): its point-in-time recovery history in \($old.region_name) is lost"
        else empty end
    else empty end
' "$plan")"

if [ -z "$findings" ]; then
  echo "plan-guard: no table, replica or table key is deleted or replaced"
  exit 0
fi

read -ra allowed <<<"${ALLOW_DATA_REPLACEMENT//,/ }"
refused=0
while IFS=$'\t' read -r name why; do
  name="${PLAN_GUARD_ROOT:+$PLAN_GUARD_ROOT:}$name"
  if [[ " ${allowed[*]} " == *" $name "* ]]; then
    echo "plan-guard: ALLOWED for this run by ALLOW_DATA_REPLACEMENT: $name $why"
  else
    echo "plan-guard: REFUSED: $name $why" >&2
    refused=1
  fi
done <<<"$findings"
if [ "$refused" -ne 0 ]; then
  echo "plan-guard: this plan would lose data. If that is intended, run the infra workflow by hand with" \
    "allow_data_replacement naming each REFUSED name above (deploy/terraform/README.md, \"Data that cannot be deleted by accident\")." >&2
fi
exit "$refused"
