# Copied into the scratch copy's modules/observability/ by scripts/check/30-terraform.sh. moto 5.2.5 accepts a
# workspace's KMS key but does not return it, so every re-plan would replace the workspace. The key is still
# sent on create (and asserted by the plan-time tests); only the emulator's re-plan ignores it.
resource "aws_prometheus_workspace" "this" {
  lifecycle {
    ignore_changes = [kms_key_arn]
  }
}
