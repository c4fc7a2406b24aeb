# Copied into the scratch copy's modules/service/ by scripts/check/terraform/smoke.sh. Never placed in the real module.

# moto 5.2.5 has no ListTagsForResource for Application Auto Scaling; the provider retries it until it times out.
locals {
  emulator_excludes = toset(["autoscaling"])
}

# moto 5.2.5 accepts these settings but does not return them, so without this every re-plan would try to set them
# again. They are still sent on create (and asserted by the plan-time tests); only the emulator's re-plan ignores them.
resource "aws_ecs_service" "this" {
  lifecycle {
    ignore_changes = [desired_count, task_definition, availability_zone_rebalancing, enable_ecs_managed_tags, health_check_grace_period_seconds]
  }
}

resource "aws_vpc_security_group_ingress_rule" "task_from_alb" {
  lifecycle {
    ignore_changes = [description]
  }
}
