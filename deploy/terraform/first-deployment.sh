#!/usr/bin/env bash
# The first deployment of hello-birthday into an empty AWS account, one step at a time, in the one order that works.
# docs/operations/deployments.md#first-deployment says what each step does and what to do between them;
# scripts/check/30-terraform.sh runs these same steps against moto on every CI run, so this order is tested.
#
#   deploy/terraform/first-deployment.sh steps            list the steps, in order
#   deploy/terraform/first-deployment.sh STEP [ARG...]    run one step
#
# Runs with an administrator's credentials for the account (the usual AWS chain). Needs terraform, aws, jq, and
# per root a terraform.tfvars (and, for the environments, a backend.hcl) filled in from the .example files.
# AUTO_APPROVE=1 applies without asking (the emulator run sets it).
set -euo pipefail

tf_dir="$(cd "$(dirname "$0")" && pwd)"
scripts_dir="$tf_dir/../../.github/scripts"

steps() {
  cat <<'STEPS'
bootstrap
registry staging
registry production
image COMMIT_SHA
promote DIGEST
stack staging DIGEST
stack production DIGEST
rollout DIGEST
STEPS
}

fail() { echo "first-deployment: $*" >&2; exit 1; }
root() { echo "$tf_dir/environments/${1:?environment}"; }

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

output() { terraform -chdir="$(root "$1")" output -raw "$2"; }

# Production's deploy role may read staging's repository (promotion), so production needs its ARN.
env_vars() {
  [ "$1" != production ] || echo "-var=staging_repository_arn=$(output staging ecr_repository_arn)"
}

# What the registry step may create: the repository, the CI roles, and the data sources they read.
outside_registry() {
  terraform -chdir="$1" state list | grep -vE '^module\.stack\.(module\.(registry|ci_access)\.|data\.)' || true
}

step_bootstrap() {
  tf_init "$tf_dir/bootstrap"
  tf_apply "$tf_dir/bootstrap"
  echo "next: fill backend.hcl of both environments from: terraform -chdir=$tf_dir/bootstrap output" >&2
}

# Only the repository and the CI roles: no service, load balancer or table before an image exists to run.
step_registry() {
  local env="${1:?registry staging|production}" dir
  dir="$(root "$env")"
  tf_init "$dir"
  [ -z "$(outside_registry "$dir")" ] || fail "$env already has more than its registry: this step is for an empty environment"
  # shellcheck disable=SC2046 # env_vars prints whole arguments
  tf_apply "$dir" -target=module.stack.module.registry -target=module.stack.module.ci_access $(env_vars "$env")
  local extra
  extra="$(outside_registry "$dir")"
  [ -z "$extra" ] || fail "the registry step of $env created more than the registry and CI roles:"$'\n'"$extra"
  echo "ok: $env has its ECR repository $(output "$env" ecr_repository_url) and CI roles, nothing else" >&2
}

# The first image comes from the image workflow (Actions > image > Run workflow on main, deploy unticked): this
# finds the digest it published for COMMIT_SHA.
step_image() {
  local sha="${1:?image COMMIT_SHA}" url
  url="$(output staging ecr_repository_url)"
  aws ecr describe-images --repository-name "${url#*/}" --image-ids "imageTag=commit-$sha" \
    --query 'imageDetails[0].imageDigest' --output text
}

step_promote() {
  "$scripts_dir/promote-image.sh" "$(output staging ecr_repository_url)" "$(output production ecr_repository_url)" \
    "${1:?promote DIGEST}"
}

step_stack() {
  local env="${1:?stack staging|production DIGEST}" digest="${2:?stack ENV DIGEST}"
  # shellcheck disable=SC2046 # env_vars prints whole arguments
  tf_apply "$(root "$env")" "-var=image_digest=$digest" $(env_vars "$env")
}

# The first rollout goes through the deploy workflow like every later one: staging, smoke test, approval, production.
step_rollout() {
  local digest="${1:?rollout DIGEST}"
  if command -v gh >/dev/null; then
    gh workflow run deploy.yml -f "digest=$digest"
  else
    echo "run: Actions > deploy > Run workflow, digest $digest" >&2
  fi
}

case "${1:-}" in
  steps) steps ;;
  bootstrap | registry | image | promote | stack | rollout)
    step="$1"
    shift
    "step_$step" "$@"
    ;;
  *) echo "usage: $0 steps | STEP [ARG...]" >&2; steps >&2; exit 2 ;;
esac
