#!/usr/bin/env bash
# Terraform check (issue 5): fmt, init + validate of every root and module, `terraform test` suites (mocked AWS,
# plan time), checkov with zero failures, and an apply / clean re-plan / destroy of the staging root against moto.
# Works offline with the provider mirror in /opt/tf-plugins, and online without it.
set -euo pipefail
# shellcheck source=../lib/tools.sh
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"

TF_DIR="$ROOT/deploy/terraform"
TF_VERSION="1.11.4"  # the version installed when terraform is missing; tests need >= 1.11 (override_during)
PROVIDER_MIRROR="/opt/tf-plugins"
SMOKE_TIMEOUT=480     # seconds for each of apply and destroy against moto

export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

phase_start=$SECONDS
phase() { log "$1 (+$((SECONDS - phase_start))s)"; }

ensure_terraform() {
  command -v terraform >/dev/null 2>&1 && return 0
  log "terraform missing: installing $TF_VERSION into .tools/bin from the official release"
  ensure_apt curl curl
  ensure_apt unzip unzip
  local arch tmp base="https://releases.hashicorp.com/terraform/$TF_VERSION"
  case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) die "unsupported CPU $(uname -m)" ;; esac
  tmp="$(mktemp -d)"
  local zip="terraform_${TF_VERSION}_linux_${arch}.zip"
  curl -fsSL -o "$tmp/$zip" "$base/$zip" && curl -fsSL -o "$tmp/SHA256SUMS" "$base/terraform_${TF_VERSION}_SHA256SUMS" ||
    die "cannot download terraform $TF_VERSION (no internet?): install it and put it on PATH"
  (cd "$tmp" && grep " $zip\$" SHA256SUMS | sha256sum -c --quiet) || die "checksum mismatch for $zip"
  unzip -q -o "$tmp/$zip" terraform -d "$TOOLS/bin"
  rm -rf "$tmp"
}

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
terraform version | head -1 >&2

roots=("$TF_DIR/bootstrap" "$TF_DIR"/environments/* "$TF_DIR"/modules/*)

phase "terraform fmt -check"
terraform fmt -check -recursive -diff "$TF_DIR" || die "run: terraform fmt -recursive deploy/terraform"

phase "terraform init -backend=false + validate (${#roots[@]} roots and modules)"
for dir in "${roots[@]}"; do
  out="$(terraform -chdir="$dir" init -backend=false -input=false -no-color 2>&1)" || { echo "$out" >&2; die "init failed: $dir"; }
  terraform -chdir="$dir" validate -no-color >/dev/null || die "validate failed: ${dir#"$ROOT"/}"
done

phase "terraform test (mocked provider, plan time)"
for dir in "$TF_DIR"/modules/*; do
  [ -d "$dir/tests" ] || die "module without tests: ${dir#"$ROOT"/}"
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

phase "moto smoke test: apply, clean re-plan, destroy of environments/staging"
smoke="$TOOLS/tf-smoke"
rm -rf "$smoke" && mkdir -p "$smoke/deploy"
# A scratch copy keeps the emulator override and state out of the real root; the contract file sits where the
# stack module expects it.
cp "$ROOT/deploy/service-contract.json" "$smoke/deploy/"
tar -C "$ROOT/deploy" --exclude=.terraform --exclude='*.tfstate*' --exclude=.terraform.lock.hcl -cf - terraform | tar -C "$smoke/deploy" -xf -
env_dir="$smoke/deploy/terraform/environments/staging"

port="$(free_port)"
# The Terraform plan role attaches the AWS managed ReadOnlyAccess policy; moto only knows AWS managed policies
# when asked to load them.
MOTO_IAM_LOAD_MANAGED_POLICIES=true start_moto "$port" "$smoke/moto.log"
trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
moto_url="http://127.0.0.1:$port"
sed "s#@MOTO_URL@#$moto_url#" "$TF_DIR/tests/smoke/moto_override.tf.tpl" >"$env_dir/moto_override.tf"
cp "$TF_DIR/tests/smoke/service_moto_override.tf.tpl" "$smoke/deploy/terraform/modules/service/moto_override.tf"
cp "$TF_DIR/tests/smoke/smoke.tfvars" "$env_dir/smoke.tfvars"
moto_python="$(ensure_venv moto)/python"
cert_arn="$("$moto_python" - "$moto_url" <<'PY'
import sys, boto3
acm = boto3.client("acm", region_name="us-east-1", endpoint_url=sys.argv[1],
                   aws_access_key_id="test", aws_secret_access_key="test")
print(acm.request_certificate(DomainName="hello.example.com")["CertificateArn"])
PY
)"
echo "certificate_arn = \"$cert_arn\"" >>"$env_dir/smoke.tfvars"

tf_smoke() { terraform -chdir="$env_dir" "$@" -input=false -no-color -var-file=smoke.tfvars; }
terraform -chdir="$env_dir" init -input=false -no-color >"$smoke/init.log" 2>&1 || { cat "$smoke/init.log" >&2; die "smoke init failed"; }
timeout "$SMOKE_TIMEOUT" terraform -chdir="$env_dir" apply -auto-approve -input=false -no-color -var-file=smoke.tfvars >"$smoke/apply.log" 2>&1 ||
  { tail -40 "$smoke/apply.log" >&2; die "apply against moto failed (log: $smoke/apply.log)"; }
grep -E '^Apply complete' "$smoke/apply.log" >&2
phase "second plan must be empty"
set +e
tf_smoke plan -detailed-exitcode >"$smoke/plan.log" 2>&1
plan_rc=$?
set -e
[ "$plan_rc" -eq 0 ] || { grep -E '^  #|will be|must be' "$smoke/plan.log" >&2 || tail -40 "$smoke/plan.log" >&2; die "second plan is not clean (exit $plan_rc, log: $smoke/plan.log)"; }
phase "destroy"
timeout "$SMOKE_TIMEOUT" terraform -chdir="$env_dir" destroy -auto-approve -input=false -no-color -var-file=smoke.tfvars >"$smoke/destroy.log" 2>&1 ||
  { tail -40 "$smoke/destroy.log" >&2; die "destroy against moto failed (log: $smoke/destroy.log)"; }
grep -E '^Destroy complete' "$smoke/destroy.log" >&2
left="$(terraform -chdir="$env_dir" state list 2>/dev/null | wc -l)"
[ "$left" -eq 0 ] || die "$left resources left in state after destroy"

phase "terraform check passed"
