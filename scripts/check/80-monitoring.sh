#!/usr/bin/env bash
# Monitoring: SLOs as code, their rules and alerts, the Alertmanager definition, the dashboard and the
# ADOT collector config, then a live end-to-end alert with the real binaries on 127.0.0.1.
#  - the generator's unit tests (its policy against the SRE workbook's table), and the committed rules are current;
#  - promtool check rules on the generated rules, promtool test rules on the burn-rate and signal scenarios;
#  - amtool check-config on the AMP Alertmanager definition, and its routes: severity page and ticket each reach
#    their receiver;
#  - the Grafana dashboard is JSON, every query parses (promtool) and names only recorded SLO series;
#  - the collector config scrapes the service contract's port and path and writes to the workspace with SigV4;
#  - live: service on moto, Prometheus, Alertmanager, webhook; a stopped emulator must page in the predicted time
#    and resolve after it is back; nothing may fire without a fault (deploy/monitoring/live_check.py).
# Wall time: about 3 minutes once the static release binary is built (shared with the rollout and flood checks) (promtool tests and the live check run concurrently).
set -euo pipefail
source "$(dirname "$0")/../lib/tools.sh"
cd "$ROOT"

ensure_apt promtool prometheus
ensure_apt amtool prometheus-alertmanager
bin="$(ensure_venv monitoring)"
moto_bin="$(ensure_venv moto)"
work="$(mktemp -d)"
promtool_pid=""
trap '[ -z "$promtool_pid" ] || kill "$promtool_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
cd deploy/monitoring

log "generator: unit tests, committed rules current"
"$bin/python" -m unittest -q test_generate
"$bin/python" generate.py --check

log "promtool check rules"
promtool check rules rules/*.rules.yml >/dev/null
log "promtool test rules (in the background)"
"$bin/python" check.py promtool-tests "$work/tests"
promtool test rules "$work"/tests/*.test.yml >"$work/promtool-test.log" 2>&1 &
promtool_pid=$!

log "Alertmanager definition: amtool check-config and routes"
"$bin/python" check.py alertmanager "$work/alertmanager.yml"
amtool check-config "$work/alertmanager.yml" >/dev/null
for severity in page ticket; do
  got="$(amtool config routes test --config.file="$work/alertmanager.yml" severity="$severity" slo=availability)"
  [ "$got" = "$severity" ] || die "an alert with severity=$severity is routed to '$got'"
done

log "dashboard"
"$bin/python" check.py dashboard "$work/dashboard.rules.yml"
promtool check rules "$work/dashboard.rules.yml" >/dev/null

log "ADOT collector config"
"$bin/python" check.py collector

log "live end-to-end check"
cd "$ROOT"
# The image's static binary, which the rollout and flood checks have built already: a second release build
# of its own would add about 5 minutes to CI.
release="$(scripts/rollout/build-release.sh)"
"$bin/python" deploy/monitoring/live_check.py --binary "$release/hello-birthday" --moto-server "$moto_bin/moto_server"

log "waiting for promtool test rules"
if ! wait "$promtool_pid"; then promtool_pid=""; cat "$work/promtool-test.log" >&2; die "promtool test rules failed"; fi
promtool_pid=""
grep -c SUCCESS "$work/promtool-test.log" | xargs -I{} echo "promtool test rules: {} test files passed" >&2
log "monitoring check passed"
