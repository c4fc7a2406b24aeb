# Copied into the scratch copy's modules/observability/ by scripts/check/terraform/smoke.sh. Never placed in the real
# module.

# moto 5.2.5 has no Alertmanager definition API for Prometheus workspaces.
locals {
  emulator_excludes = toset(["alertmanager"])
}

# moto 5.2.5 accepts a workspace's KMS key but does not return it, so every re-plan would replace the workspace. The
# key is still sent on create (and asserted by the plan-time tests); only the emulator's re-plan ignores it.
resource "aws_prometheus_workspace" "this" {
  lifecycle {
    ignore_changes = [kms_key_arn]
  }
}
