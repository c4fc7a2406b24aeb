#!/usr/bin/env bash
# Terraform check: fmt, init + validate of every root and module, `terraform test` suites (mocked AWS,
# plan time), checkov with zero failures, and against moto the first deployment as deploy/terraform/first-deployment.sh
# runs it (bootstrap, registries, image, promotion, both stacks, the deploy workflow's calls), parliament over every
# rendered policy, the ECR lifecycle replay, a clean re-plan and destroy of staging, then a clean plan of production.
# Wall time measured on the 2-core machine shared with other builds: about 15 minutes (925 s), the smoke part about 10.
# Works offline with the provider mirror in /opt/tf-plugins, and online without it.
set -euo pipefail
# shellcheck source=../lib/tools.sh
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"

TF_DIR="$ROOT/deploy/terraform"
PROVIDER_MIRROR="/opt/tf-plugins"
SMOKE_TIMEOUT=480     # seconds for each of apply and destroy against moto

export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

phase_start=$SECONDS
phase() { log "$1 (+$((SECONDS - phase_start))s)"; }

write_cli_config() {
  mkdir -p "$TOOLS/tf-plugin-cache"
  export TF_CLI_CONFIG_FILE="$TOOLS/terraformrc" TF_PLUGIN_CACHE_DIR="$TOOLS/tf-plugin-cache"
  if [ -d "$PROVIDER_MIRROR/registry.terraform.io" ]; then
    cat >"$TF_CLI_CONFIG_FILE" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$PROVIDER_MIRROR"
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/*"]
  }
}
RC
  else
    printf 'provider_installation {\n  direct {}\n}\n' >"$TF_CLI_CONFIG_FILE"
  fi
}

ensure_terraform
write_cli_config
terraform version | sed -n 1p >&2

roots=("$TF_DIR/bootstrap" "$TF_DIR/environments/staging" "$TF_DIR"/environments/production/* "$TF_DIR"/modules/*)

phase "terraform fmt -check"
terraform fmt -check -recursive -diff "$TF_DIR" || die "run: terraform fmt -recursive deploy/terraform"

phase "terraform init -backend=false + validate (${#roots[@]} roots and modules)"
for dir in "${roots[@]}"; do
  out="$(terraform -chdir="$dir" init -backend=false -input=false -no-color 2>&1)" || { echo "$out" >&2; die "init failed: $dir"; }
  terraform -chdir="$dir" validate -no-color >/dev/null || die "validate failed: ${dir#"$ROOT"/}"
done

phase "terraform test (mocked provider, plan time)"
for dir in "$TF_DIR"/modules/* "$TF_DIR"/environments/production/*; do
  [ -d "$dir/tests" ] || die "module or production root without tests: ${dir#"$ROOT"/}"
  out="$(terraform -chdir="$dir" test -no-color 2>&1)" || { echo "$out" >&2; die "terraform test failed: ${dir#"$ROOT"/}"; }
  echo "${dir#"$TF_DIR"/}: $(echo "$out" | tail -1)" >&2
done

phase "checkov"
# Every suppression must sit next to its resource and say why.
if grep -rn --include='*.tf' 'checkov:skip' "$TF_DIR" | grep -vE '#checkov:skip=CKV2?_AWS_[0-9]+:.{20,}'; then
  die "checkov skips above lack an ID or a reason (#checkov:skip=ID:reason)"
fi
checkov_bin="$(ensure_venv checkov)"
# --skip-download: no calls to the vendor's platform, the scan runs fully offline.
"$checkov_bin/checkov" -d "$TF_DIR" --framework terraform --skip-download --quiet --compact >&2 ||
  die "checkov found failing checks"

phase "moto smoke test: the first deployment, step by step (deploy/terraform/first-deployment.sh)"
smoke="$TOOLS/tf-smoke"
rm -rf "$smoke" && mkdir -p "$smoke/deploy"
# A scratch copy keeps the emulator overrides and state out of the real roots; the contract file sits where the
# stack module expects it, and .github/scripts where first-deployment.sh finds them.
cp "$ROOT/deploy/service-contract.json" "$ROOT/deploy/entry-point.json" "$smoke/deploy/"
# One production region on the emulator (deploy/terraform/README.md, "Emulator exclusions").
cp "$ROOT/deploy/terraform/tests/smoke/regions.json" "$smoke/deploy/"
# The stack reads the generated Prometheus rules, the Alertmanager definition and the collector config from here.
cp -r "$ROOT/deploy/monitoring" "$smoke/deploy/"
tar -C "$ROOT/deploy" --exclude=.terraform --exclude='*.tfstate*' --exclude=.terraform.lock.hcl -cf - terraform | tar -C "$smoke/deploy" -xf -
cp -r "$ROOT/.github" "$smoke/.github"
smoke_tf="$smoke/deploy/terraform"
first_deployment="$smoke_tf/first-deployment.sh"

port="$(free_port)"
# The Terraform plan role attaches the AWS managed ReadOnlyAccess policy: moto knows AWS managed policies only when
# asked to load them. moto runs no containers: MOTO_ECS_SERVICE_RUNNING is how many tasks it reports running.
MOTO_IAM_LOAD_MANAGED_POLICIES=true MOTO_ECS_SERVICE_RUNNING=3 start_moto "$port" "$smoke/moto.log"
trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
moto_url="http://127.0.0.1:$port"
# Every AWS call of the steps and of the .github/scripts goes to moto, with fake credentials.
STUB_PYTHON="$(ensure_venv moto)/python"
export AWS_ENDPOINT_URL="$moto_url" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
  AWS_REGION=us-east-1 AUTO_APPROVE=1 STUB_PYTHON
unset AWS_PROFILE AWS_SESSION_TOKEN
PATH="$(ensure_venv awscli):$TF_DIR/tests/smoke/stubs:$PATH"

cert_arn="$(aws acm request-certificate --domain-name hello.example.com --query CertificateArn --output text)"
sed "s#@MOTO_URL@#$moto_url#" "$TF_DIR/tests/smoke/moto_override.tf.tpl" >"$smoke/moto_override.tf"
for dir in bootstrap environments/staging environments/production/region environments/production/global; do
  cp "$smoke/moto_override.tf" "$smoke_tf/$dir/moto_override.tf"
done
for dir in environments/staging environments/production/region; do
  cp "$TF_DIR/tests/smoke/stack_moto_override.tf.tpl" "$smoke_tf/$dir/stack_moto_override.tf"
done
sed "s#@MOTO_URL@#$moto_url#" "$TF_DIR/tests/smoke/global_moto_override.tf.tpl" >"$smoke_tf/environments/production/global/global_moto_override.tf"
cp "$TF_DIR/tests/smoke/service_moto_override.tf.tpl" "$smoke_tf/modules/service/moto_override.tf"
cp "$TF_DIR/tests/smoke/observability_moto_override.tf.tpl" "$smoke_tf/modules/observability/moto_override.tf"
cp "$TF_DIR/tests/smoke/bootstrap.tfvars" "$smoke_tf/bootstrap/terraform.tfvars"
for env in staging production/region; do
  { cat "$TF_DIR/tests/smoke/smoke.tfvars"; echo "certificate_arn = \"$cert_arn\""; } >"$smoke_tf/environments/$env/terraform.tfvars"
done
cp "$TF_DIR/tests/smoke/global.tfvars" "$smoke_tf/environments/production/global/terraform.tfvars"

# What GitHub does between the steps, played against moto: the image workflow's publish job, and the deploy
# workflow's AWS calls (tests/smoke/workflows.sh).
# shellcheck source=../../deploy/terraform/tests/smoke/workflows.sh
source "$TF_DIR/tests/smoke/workflows.sh"

commit="0123456789abcdef0123456789abcdef01234567"
digest=""
n=0
while read -r step args; do
  n=$((n + 1))
  args="${args//COMMIT_SHA/$commit}"
  args="${args//DIGEST/$digest}"
  phase "step $n: $step $args"
  case "$step" in
    image) digest="$(play_image_workflow "$smoke_tf" "$commit")" ;;
    rollout) play_deploy_workflow "$smoke_tf" "$digest"; continue ;;
  esac
  # shellcheck disable=SC2086 # args are words
  timeout "$SMOKE_TIMEOUT" "$first_deployment" "$step" $args >"$smoke/step-$n.log" 2>&1 ||
    { tail -40 "$smoke/step-$n.log" >&2; die "first-deployment.sh $step $args failed against moto (log: $smoke/step-$n.log)"; }
  [ "$step" != image ] || [ "$(tail -1 "$smoke/step-$n.log")" = "$digest" ] || die "step image found $(tail -1 "$smoke/step-$n.log"), not $digest"
done < <("$first_deployment" steps)

phase "policies and the ECR lifecycle rule, as the apply rendered them"
rendered="$TF_DIR/tests/rendered"
applied=("$smoke_tf/bootstrap" "$smoke_tf/environments/staging" "$smoke_tf/environments/production/region")
(cd "$rendered" && "$(ensure_venv parliament)/python" lint_policies.py "${applied[@]}") ||
  die "parliament found problems in the policies above (accept one only with #parliament:skip=ISSUE:reason next to it)"
(cd "$rendered" && python3 wiring.py "${applied[@]:1}") || die "the deploy role names ARNs the apply did not create"
(cd "$rendered" && python3 -m unittest -q test_ecr_lifecycle 2>&1 | tail -1 >&2 && python3 ecr_lifecycle.py "${applied[@]:1}") ||
  die "the ECR lifecycle policy does not keep the intended number of builds"

clean_plan() {
  local dir="$smoke_tf/environments/$1" log="$smoke/plan-${1//\//-}.log" rc=0
  terraform -chdir="$dir" plan -detailed-exitcode -input=false -no-color "${@:2}" >"$log" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] || { grep -E '^  #|will be|must be' "$log" >&2 || tail -40 "$log" >&2; die "second plan of $1 is not clean (exit $rc, log: $log)"; }
}
phase "second plan of staging must be empty"
clean_plan staging "-var=image_digest=$digest"
staging_repository_arn="$(terraform -chdir="$smoke_tf/environments/staging" output -raw ecr_repository_arn)"
smoke_region="$(jq -r '.production[0].region' "$smoke/deploy/regions.json")"
phase "destroy staging"
timeout "$SMOKE_TIMEOUT" terraform -chdir="$smoke_tf/environments/staging" destroy -auto-approve -input=false -no-color "-var=image_digest=$digest" >"$smoke/destroy.log" 2>&1 ||
  { tail -40 "$smoke/destroy.log" >&2; die "destroy of staging against moto failed (log: $smoke/destroy.log)"; }
grep -E '^Destroy complete' "$smoke/destroy.log" >&2
left="$(terraform -chdir="$smoke_tf/environments/staging" state list 2>/dev/null | wc -l)"
[ "$left" -eq 0 ] || die "$left resources left in staging's state after destroy"
phase "after staging is gone, production still plans clean (its CI roles trust bootstrap's OIDC provider)"
clean_plan production/region "-var=image_digest=$digest" "-var=staging_repository_arn=$staging_repository_arn" "-var=region=$smoke_region" \
  "-var=vpc_cidr=$(jq -r '.production[0].vpc_cidr' "$smoke/deploy/regions.json")"
phase "the global layer plans clean too"
clean_plan production/global "-var=regions=[\"$smoke_region\"]"

phase "terraform check passed"
