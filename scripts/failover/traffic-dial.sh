#!/usr/bin/env bash
# The region drain lever (docs/operations/runbook.md#region-failover-and-failback): set one region's traffic dial on
# the Global Accelerator entry point.
#
#   scripts/failover/traffic-dial.sh REGION PERCENT     0 drains the region, 100 restores it
#
# The endpoint group ARNs come from the production global root's output `entry_point` (run where that root is
# initialised with its backend, with credentials allowed to call globalaccelerator:*EndpointGroup). Global
# Accelerator's API lives in us-west-2 whatever regions serve. Before a region is dialled below 100, every other
# region must be dialled above 0 and have a healthy endpoint: draining onto a region that cannot take the traffic is
# an outage, not a drain. Only new connections follow the dial; open keep-alive connections stay until clients close
# them (the service's idle timeout bounds that), so watch the region's request count fall before acting on it.
#
# The dial set here is not in Terraform's state: the next apply of the global root puts back
# entry_point.traffic_dials from its variables. Record a drain meant to last there as well.
set -euo pipefail

[ "$#" -eq 2 ] || { sed -n '5,6p' "$0" >&2; exit 2; }
region="$1" percent="$2"
if ! [[ "$percent" =~ ^[0-9]+$ ]] || [ "$percent" -gt 100 ]; then echo "PERCENT must be 0-100, not $percent" >&2; exit 2; fi
root="${HELLO_BIRTHDAY_GLOBAL_ROOT:-$(dirname "$0")/../../deploy/terraform/environments/production/global}"
ga=(aws globalaccelerator --region us-west-2)

groups="$(terraform -chdir="$root" output -json entry_point)"
arn_of() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])["endpoint_group_arns"].get(sys.argv[2]) or exit(1))' "$groups" "$1"; }
others() { python3 -c 'import json, sys; print("\n".join(r for r in json.loads(sys.argv[1])["endpoint_group_arns"] if r != sys.argv[2]))' "$groups" "$1"; }
arn="$(arn_of "$region")" || { echo "no endpoint group for $region in the global root's outputs" >&2; exit 1; }

if [ "$percent" -lt 100 ]; then
  for other in $(others "$region"); do
    # shellcheck disable=SC2016 # the backquotes are a JMESPath literal, not a command
    read -r dial healthy < <("${ga[@]}" describe-endpoint-group --endpoint-group-arn "$(arn_of "$other")" --output text \
      --query 'EndpointGroup.[TrafficDialPercentage, length(EndpointDescriptions[?HealthState==`HEALTHY`])]')
    echo "$other: traffic dial ${dial%.*} %, $healthy healthy endpoint(s)"
    [ "${dial%.*}" -gt 0 ] && [ "$healthy" -gt 0 ] && continue
    echo "refusing: $other cannot take $region's traffic; restore it first" >&2
    exit 1
  done
fi

"${ga[@]}" update-endpoint-group --endpoint-group-arn "$arn" --traffic-dial-percentage "$percent" --output text \
  --query 'EndpointGroup.[EndpointGroupRegion, TrafficDialPercentage]'
echo "set $region to $percent %; the next apply of the global root restores entry_point.traffic_dials" >&2
