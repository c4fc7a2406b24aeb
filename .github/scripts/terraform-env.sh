#!/usr/bin/env bash
# Runs terraform in one root of deploy/terraform/environments against its remote state, for the infra workflow.
#   .github/scripts/terraform-env.sh staging|production/region|production/global plan|apply [ARGS...]
# production/region is applied once per region: TF_VAR_region names it, and its state is the workspace of that name
# (S3 key hello-birthday/production/REGION/terraform.tfstate). Environment: STATE_BUCKET, STATE_KMS_KEY,
# STATE_REGION (the bootstrap root's outputs and region), AWS credentials, TF_VAR_*.
set -euo pipefail

root="${1:?root}"; shift
dir="deploy/terraform/environments/$root"
[ -d "$dir" ] || { echo "::error::no Terraform root $dir"; exit 1; }
case "$root" in
  staging) key=(-backend-config="key=hello-birthday/staging/terraform.tfstate") ;;
  production/region) key=(-backend-config="key=terraform.tfstate" -backend-config="workspace_key_prefix=hello-birthday/production") ;;
  production/global) key=(-backend-config="key=hello-birthday/production/global/terraform.tfstate") ;;
  *) echo "::error::unknown root $root"; exit 1 ;;
esac

terraform -chdir="$dir" init -input=false -no-color \
  -backend-config="bucket=${STATE_BUCKET:?}" "${key[@]}" \
  -backend-config="region=${STATE_REGION:?}" \
  -backend-config="encrypt=true" \
  -backend-config="kms_key_id=${STATE_KMS_KEY:?}" \
  -backend-config="use_lockfile=true"
[ "$root" != production/region ] || terraform -chdir="$dir" workspace select -or-create "${TF_VAR_region:?}"

# The roots' grouped inputs, from the same repository variables (undeclared TF_VAR_* are ignored by a root).
: "${TF_VAR_ci:=$(jq -nc --arg repo "${GITHUB_REPOSITORY:?}" --arg bucket "$STATE_BUCKET" --arg key "$STATE_KMS_KEY" \
  '{github_repository: $repo, terraform_state: {bucket: $bucket, kms_key_arn: $key}}')}"
: "${TF_VAR_regional_state:=$(jq -nc --arg bucket "$STATE_BUCKET" --arg region "$STATE_REGION" '{bucket: $bucket, region: $region}')}"
: "${TF_VAR_alarms:=$(jq -nc --argjson emails "${TF_VAR_alarm_emails:-[]}" '{emails: $emails}')}"
export TF_VAR_ci TF_VAR_regional_state TF_VAR_alarms TF_VAR_github_repository="${TF_VAR_github_repository:-$GITHUB_REPOSITORY}"
# Optional objects from optional repository variables: an unset one reads as "", which is no object, so it is left
# to the input's null default.
for optional in TF_VAR_cross_cloud TF_VAR_readiness_host; do
  [ -n "${!optional:-}" ] || unset "$optional"
done

# Terraform shapes the task definition but the deploy workflow chooses the image. Give Terraform the digest that
# runs now, so a revision it registers never carries an older image than production has.
if [ "$root" != production/global ] && [ -z "${TF_VAR_image_digest:-}" ]; then
  workflow="$(terraform -chdir="$dir" output -json workflow 2>/dev/null || echo '{}')"
  cluster="$(jq -r '.cluster_name // empty' <<<"$workflow")" service="$(jq -r '.service_name // empty' <<<"$workflow")"
  if [ -n "$cluster" ] && [ -n "$service" ]; then
    TF_VAR_image_digest="$("$(dirname "$0")/running-digest.sh" "$cluster" "$service" || true)"
  fi
  [[ "${TF_VAR_image_digest:-}" =~ ^sha256:[0-9a-f]{64}$ ]] || {
    echo "::error::cannot tell which image runs in $root ${TF_VAR_region:-}; for the first apply set TF_VAR_image_digest (docs/operations/deployments.md#first-deployment)"
    exit 1
  }
  export TF_VAR_image_digest
fi

terraform -chdir="$dir" "$@"
