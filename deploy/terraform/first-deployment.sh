#!/usr/bin/env bash
# The first deployment of hello-birthday into an empty AWS account, one step at a time, in the one order that works.
# docs/operations/deployments.md#first-deployment says what each step does and what to do between them;
# the terraform check (scripts/check/terraform/smoke.sh) runs these same steps against moto on every CI run, so this
# order is tested.
#
#   deploy/terraform/first-deployment.sh steps                       list the steps, in order
#   deploy/terraform/first-deployment.sh STEP [ARG...]               run one step
#   deploy/terraform/first-deployment.sh add-region-steps REGION     list the steps that add REGION to production
#   deploy/terraform/first-deployment.sh add-region REGION [DIGEST]  run them, in order
#
# Adding a region (docs/operations/deployments.md#adding-a-region) starts with its entry in deploy/regions.json, in the
# operator's branch, before infra.yml on main sees it; the running image is copied into the new region's repository
# (backfill), because ECR replication carries only images pushed after the region became a destination.
#
# Runs with an administrator's credentials for the account (the usual AWS chain). Needs terraform, aws, jq, and
# per root a terraform.tfvars (and, for the environments, a backend.hcl) filled in from the .example files.
# AUTO_APPROVE=1 applies without asking (the emulator run sets it).
set -euo pipefail

tf_dir="$(cd "$(dirname "$0")" && pwd)"
scripts_dir="$tf_dir/../../.github/scripts"
# Production's regions, the primary first (deploy/regions.json): a regional stack each, then the global layer.
regions_file="$tf_dir/../regions.json"

regions() { jq -r '.production[].region' "$regions_file"; }
primary() { regions | sed -n 1p; }

steps() {
  echo bootstrap
  echo registry staging
  regions | sed 's/^/registry production /'
  echo table
  echo image COMMIT_SHA
  echo promote DIGEST
  echo stack staging DIGEST
  regions | sed 's/^/stack production /; s/$/ DIGEST/'
  echo global
  echo rollout DIGEST
}

# The steps that add REGION, an entry of deploy/regions.json after the primary, to a running production: its registry
# and table key, its table replica and replication destination, the running image copied into its repository, its
# stack (after the preflight gate), the global layer, and the other regions' replication-lag alarms towards it.
add_region_steps() {
  local region="$1" other
  echo "registry production $region"
  echo table
  echo "backfill $region"
  echo "stack production $region DIGEST"
  echo global
  for other in $(regions); do
    [ "$other" = "$region" ] || echo "stack production $other"
  done
}

fail() { echo "first-deployment: $*" >&2; exit 1; }

# REGION must be listed in deploy/regions.json, and not as the primary: the regional and global roots read the list.
listed_region() {
  local region="${1:?REGION}"
  regions | grep -qxF "$region" ||
    fail "$region is not in $regions_file: add { \"region\": \"$region\", \"vpc_cidr\": \"<a /16 no other region uses>\" } to its production list first"
  [ "$region" != "$(primary)" ] || fail "$region is the primary region: add-region is for the regions after it"
}

global_root="$tf_dir/environments/production/global"
root() {
  case "${1:?environment}" in
    staging) echo "$tf_dir/environments/staging" ;;
    production) echo "$tf_dir/environments/production/region" ;;
    *) fail "no environment $1" ;;
  esac
}

tf_init() {
  local dir="$1" args=(-input=false)
  [ ! -f "$dir/backend.hcl" ] || args+=(-backend-config=backend.hcl)
  terraform -chdir="$dir" init "${args[@]}" >/dev/null
}

tf_apply() {
  local dir="$1"
  shift
  terraform -chdir="$dir" apply -input=false ${AUTO_APPROVE:+-auto-approve} "$@"
}

# The regional root keeps one state per region, in the workspace named after it (S3 key
# hello-birthday/production/REGION/terraform.tfstate through backend.hcl's workspace_key_prefix).
use_region() {
  tf_init "$(root production)"
  terraform -chdir="$(root production)" workspace select -or-create "${1:?region}" >/dev/null
}

# ENV [REGION] NAME: an output of staging, or of production's REGION (the primary when omitted).
output() {
  local env="$1" name="${*: -1}" region="${2:-}"
  if [ "$env" = production ]; then
    [ $# -eq 3 ] || region="$(primary)"
    use_region "$region"
  fi
  case "$name" in
    ecr_repository_url | ecr_repository_arn) terraform -chdir="$(root "$env")" output -raw "$name" ;;
    *) terraform -chdir="$(root "$env")" output -json workflow | jq -r --arg n "$name" '.[$n]' ;;
  esac
}

# Inputs of one environment (or production region) that come from elsewhere: staging's repository, where
# production promotes from; the region's VPC range; its certificate (region-REGION.tfvars, git-ignored).
env_vars() {
  local env="$1" region="${2:-}"
  [ "$env" = production ] || return 0
  echo "-var=staging_repository_arn=$(output staging ecr_repository_arn)"
  echo "-var=region=$region"
  echo "-var=vpc_cidr=$(jq -r --arg r "$region" '.production[] | select(.region == $r) | .vpc_cidr' "$regions_file")"
  [ ! -f "$(root production)/region-$region.tfvars" ] || echo "-var-file=region-$region.tfvars"
}

# The global root's inputs that follow deploy/regions.json.
global_vars() {
  echo "-var=regions=$(jq -c '[.production[].region]' "$regions_file")"
}

# What the registry step may create: the repository, the CI roles, in production the region's table key and the
# task role its policy names, and the data sources they read.
outside_registry() {
  terraform -chdir="$1" state list |
    grep -vE '^module\.stack\.(module\.(registry|ci_access|table_key(\[0\])?)\.|module\.service\.(aws_iam_role\.task|data\.)|data\.)' || true
}

step_bootstrap() {
  tf_init "$tf_dir/bootstrap"
  tf_apply "$tf_dir/bootstrap"
  echo "next: fill backend.hcl of both environments from: terraform -chdir=$tf_dir/bootstrap output" >&2
}

# Only the repository and the CI roles (and, in production, the key of the region's table replica): no service, load
# balancer or table before an image exists to run.
step_registry() {
  local env="${1:?registry staging|production REGION}" region="${2:-}" dir targets
  dir="$(root "$env")"
  targets=(-target=module.stack.module.registry -target=module.stack.module.ci_access)
  if [ "$env" = production ]; then
    use_region "${region:?registry production REGION}"
    targets+=(-target=module.stack.module.table_key)
  else
    tf_init "$dir"
  fi
  [ -z "$(outside_registry "$dir")" ] || fail "$env $region already has more than its registry: this step is for an empty environment"
  # shellcheck disable=SC2046 # env_vars prints whole arguments
  tf_apply "$dir" "${targets[@]}" $(env_vars "$env" "$region")
  local extra
  extra="$(outside_registry "$dir")"
  [ -z "$extra" ] || fail "the registry step of $env $region created more than the registry and CI roles:"$'\n'"$extra"
  echo "ok: $env $region has its ECR repository $(terraform -chdir="$dir" output -raw ecr_repository_url) and CI roles, nothing else" >&2
}

# The global table and image replication, before any image or service: replication copies only images pushed after
# it exists, and each region's tasks find their replica when they first start.
step_table() {
  tf_init "$global_root"
  # shellcheck disable=SC2046 # global_vars prints whole arguments
  tf_apply "$global_root" -target=module.data -target=module.image_replication $(global_vars)
}

# Everything else of the global layer, once every region has its load balancer: the entry point, its alarms, the
# global dashboard.
step_global() {
  tf_init "$global_root"
  # shellcheck disable=SC2046 # global_vars prints whole arguments
  tf_apply "$global_root" $(global_vars)
  "$scripts_dir/protect-replicas.sh" "$global_root"
}

# The first image comes from the image workflow (Actions > image > Run workflow on main, deploy unticked): this
# finds the digest it published for COMMIT_SHA.
step_image() {
  local sha="${1:?image COMMIT_SHA}" url
  url="$(output staging ecr_repository_url)"
  aws ecr describe-images --repository-name "${url#*/}" --image-ids "imageTag=commit-$sha" \
    --query 'imageDetails[0].imageDigest' --output text
}

# Into the primary region's repository; image replication (step table) carries it to the other regions.
step_promote() {
  "$scripts_dir/promote-image.sh" "$(output staging ecr_repository_url)" "$(output production ecr_repository_url)" \
    "${1:?promote DIGEST}"
}

# The digest REGION's service runs now (the deploy workflow chooses it, not Terraform).
running_digest() {
  local region="$1" workflow
  use_region "$region"
  workflow="$(terraform -chdir="$(root production)" output -json workflow 2>/dev/null || echo '{}')"
  "$scripts_dir/running-digest.sh" "$(jq -r '.cluster_name // "none"' <<<"$workflow")" \
    "$(jq -r '.service_name // "none"' <<<"$workflow")" "$region" || fail "$region runs no service yet: give the DIGEST"
}

# The running image of the primary region, copied into REGION's repository (or DIGEST, from the primary's). Prints
# the digest.
step_backfill() {
  local region="${1:?backfill REGION [DIGEST]}" digest="${2:-}" source target
  listed_region "$region"
  [ -n "$digest" ] || digest="$(running_digest "$(primary)")"
  source="$(output production "$(primary)" ecr_repository_url)"
  target="$(output production "$region" ecr_repository_url)"
  "$scripts_dir/promote-image.sh" "$source" "$target" "$digest" >&2
  echo "$digest"
}

# No production service may start before its image and its table are in its region: ECS would start tasks that cannot
# pull, or that fail readiness without their replica, and stop the first deployment with nothing to roll back to.
step_preflight() {
  local region="${1:?preflight REGION DIGEST}" digest="${2:?preflight REGION DIGEST}" url table status
  url="$(output production "$region" ecr_repository_url)"
  aws ecr describe-images --region "$region" --repository-name "${url#*/}" --image-ids "imageDigest=$digest" >/dev/null 2>&1 ||
    fail "$digest is not in ${url#*/} in $region: copy the running image there first (backfill $region), or wait for ECR replication"
  tf_init "$global_root"
  table="$(terraform -chdir="$global_root" output -raw table_name 2>/dev/null)" ||
    fail "the global root has no table yet: run the table step first"
  status="$(aws dynamodb describe-table --region "$region" --table-name "$table" --query Table.TableStatus --output text 2>&1)" || status=missing
  [ "$status" = ACTIVE ] || fail "table $table is not ACTIVE in $region ($status): run the table step (its replica) first"
  if [ "$region" != "$(primary)" ]; then
    status="$(aws dynamodb describe-table --region "$(primary)" --table-name "$table" --output text \
      --query "Table.Replicas[?RegionName=='$region'] | [0].ReplicaStatus")"
    [ "$status" = ACTIVE ] || fail "table $table has no ACTIVE replica in $region ($status): run the table step first"
  fi
  echo "ok: $region holds $digest and an ACTIVE replica of $table" >&2
}

# Production: DIGEST may be left out for a region that already runs a service (its running digest: a re-apply).
step_stack() {
  local env="${1:?stack staging|production REGION [DIGEST]}" region="" digest
  if [ "$env" = production ]; then
    region="${2:?stack production REGION [DIGEST]}"
    digest="${3:-$(running_digest "$region")}"
    step_preflight "$region" "$digest"
    use_region "$region"
  else
    digest="${2:?stack staging DIGEST}"
    tf_init "$(root "$env")"
  fi
  # shellcheck disable=SC2046 # env_vars prints whole arguments
  tf_apply "$(root "$env")" "-var=image_digest=$digest" $(env_vars "$env" "$region")
}

# The first rollout goes through the deploy workflow like every later one: staging, smoke test, approval, then
# production region by region, each baked before the next.
step_rollout() {
  local digest="${1:?rollout DIGEST}"
  if command -v gh >/dev/null; then
    gh workflow run deploy.yml -f "digest=$digest"
  else
    echo "run: Actions > deploy > Run workflow, digest $digest" >&2
  fi
}

# Each step of add_region_steps in turn, the digest of the backfill into the new region's stack. The steps are read
# first: terraform's approval prompts read the terminal.
add_region() {
  local region="${1:?add-region REGION [DIGEST]}" digest="${2:-}" line step args
  local -a steps
  listed_region "$region"
  mapfile -t steps < <(add_region_steps "$region")
  for line in "${steps[@]}"; do
    read -r step args <<<"${line//DIGEST/$digest}"
    echo "first-deployment: add-region $region: $step $args" >&2
    # shellcheck disable=SC2086 # args are words
    case "$step" in
      backfill) digest="$(step_backfill $args ${digest:+"$digest"})" ;;
      *) "step_$step" $args ;;
    esac
  done
}

case "${1:-}" in
  steps) steps ;;
  add-region-steps) listed_region "${2:?add-region-steps REGION}" && add_region_steps "$2" ;;
  add-region) shift && add_region "$@" ;;
  bootstrap | registry | table | image | promote | stack | global | rollout | backfill | preflight)
    step="$1"
    shift
    "step_$step" "$@"
    ;;
  *) echo "usage: $0 steps | STEP [ARG...] | add-region-steps REGION | add-region REGION [DIGEST]" >&2; steps >&2; exit 2 ;;
esac
