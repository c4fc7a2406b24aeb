#!/usr/bin/env bash
# The digest of the image an ECS service runs now: its current task definition's application container (the first),
# whichever revision the deploy workflow last registered. Terraform shapes the task definition but the deploy workflow
# chooses the image, so this, not a Terraform input, is what runs.
#   .github/scripts/running-digest.sh CLUSTER SERVICE [REGION]
# Prints sha256:...; exit 1 if the service does not exist or runs an image not pinned by digest.
set -euo pipefail

cluster="${1:?cluster}" service="${2:?service}"
region=()
[ -z "${3:-}" ] || region=(--region "$3")
definition="$(aws ecs describe-services "${region[@]}" --cluster "$cluster" --services "$service" \
  --query "services[?status=='ACTIVE'] | [0].taskDefinition" --output text)"
[[ "$definition" == arn:* ]] || { echo "running-digest: no active service $service in $cluster" >&2; exit 1; }
image="$(aws ecs describe-task-definition "${region[@]}" --task-definition "$definition" \
  --query 'taskDefinition.containerDefinitions[0].image' --output text)"
[[ "${image##*@}" =~ ^sha256:[0-9a-f]{64}$ ]] || { echo "running-digest: $service runs $image, not an image by digest" >&2; exit 1; }
echo "${image##*@}"
