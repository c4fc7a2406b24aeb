#!/usr/bin/env bash
# Runs terraform in deploy/terraform/environments/ENV against its remote state, for the infra workflow.
#   .github/scripts/terraform-env.sh ENV plan|apply [ARGS...]
# Environment: STATE_BUCKET, STATE_KMS_KEY (from the bootstrap root's outputs), AWS credentials, TF_VAR_*.
set -euo pipefail

environment="${1:?environment}"; shift
dir="deploy/terraform/environments/$environment"
[ -d "$dir" ] || { echo "::error::no Terraform root $dir"; exit 1; }

terraform -chdir="$dir" init -input=false -no-color \
  -backend-config="bucket=${STATE_BUCKET:?}" \
  -backend-config="key=hello-birthday/$environment/terraform.tfstate" \
  -backend-config="region=${TF_VAR_region:?}" \
  -backend-config="encrypt=true" \
  -backend-config="kms_key_id=${STATE_KMS_KEY:?}" \
  -backend-config="use_lockfile=true"

# Terraform shapes the task definition but the deploy workflow chooses the image. Give Terraform the digest that
# runs now, so a revision it registers never carries an older image than production has.
if [ -z "${TF_VAR_image_digest:-}" ]; then
  cluster="$(terraform -chdir="$dir" output -raw cluster_name 2>/dev/null || true)"
  service="$(terraform -chdir="$dir" output -raw service_name 2>/dev/null || true)"
  if [ -n "$cluster" ] && [ -n "$service" ]; then
    definition="$(aws ecs describe-services --cluster "$cluster" --services "$service" \
      --query 'services[0].taskDefinition' --output text)"
    image="$(aws ecs describe-task-definition --task-definition "$definition" \
      --query 'taskDefinition.containerDefinitions[0].image' --output text)"
    TF_VAR_image_digest="${image##*@}"
  fi
  [[ "${TF_VAR_image_digest:-}" =~ ^sha256:[0-9a-f]{64}$ ]] || {
    echo "::error::cannot tell which image runs in $environment; for the first apply set TF_VAR_image_digest (docs/operations/deployments.md#first-deployment)"
    exit 1
  }
  export TF_VAR_image_digest
fi

terraform -chdir="$dir" "$@"
