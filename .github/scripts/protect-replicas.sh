#!/usr/bin/env bash
# Deletion protection on every replica of the global table, which provider hashicorp/aws before 6.9 cannot set (its
# replica block has no deletion_protection_enabled; the primary's is set by Terraform). Run after each apply of the
# global root, by the infra workflow and by first-deployment.sh; idempotent: a replica already protected is left
# alone. Reads the table and its replica regions from the global root's outputs (table_name, replica_regions), so a
# region added to deploy/regions.json is protected by the apply that creates its replica.
#
#   .github/scripts/protect-replicas.sh GLOBAL_ROOT_DIR
#
# Needs terraform (initialised in GLOBAL_ROOT_DIR), aws and jq, with credentials allowed dynamodb:DescribeTable and
# dynamodb:UpdateTable in each replica region. Exit 1 if a replica is left unprotected.
# With provider 6.9 or later, set deletion_protection_enabled in modules/data's replica block and delete this script
# (deploy/terraform/README.md, "Upgrade path").
set -euo pipefail

root="${1:?usage: protect-replicas.sh GLOBAL_ROOT_DIR}"
table="$(terraform -chdir="$root" output -raw table_name)"
mapfile -t regions < <(terraform -chdir="$root" output -json replica_regions | jq -r '.[]')
[ "${#regions[@]}" -gt 0 ] || { echo "protect-replicas: $table has no replica"; exit 0; }

protected() {
  aws dynamodb describe-table --region "$1" --table-name "$table" --query 'Table.DeletionProtectionEnabled' --output text
}

status=0
for region in "${regions[@]}"; do
  if [ "$(protected "$region")" = True ]; then
    echo "protect-replicas: $table in $region: already protected"
    continue
  fi
  # A replica being created (or updated) refuses UpdateTable until it is ACTIVE.
  aws dynamodb wait table-exists --region "$region" --table-name "$table"
  aws dynamodb update-table --region "$region" --table-name "$table" --deletion-protection-enabled >/dev/null
  if [ "$(protected "$region")" = True ]; then
    echo "protect-replicas: $table in $region: deletion protection turned on"
  else
    echo "protect-replicas: $table in $region: deletion protection is still off after UpdateTable" >&2
    status=1
  fi
done
exit "$status"
