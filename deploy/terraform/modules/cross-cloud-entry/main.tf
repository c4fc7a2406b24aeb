locals {
  contract = jsondecode(file("${path.module}/../../../service-contract.json"))
  # The same cadence as Global Accelerator's checks inside AWS, so docs/multi-cloud.md's RTO follows from one file.
  cadence = jsondecode(file("${path.module}/../../../entry-point.json"))
  # Every Global Accelerator is an alias target in this fixed hosted zone.
  accelerator_zone_id = "Z2BJ6XQ5FK7U4H"
  sides = {
    aws     = var.aws.health_check_fqdn
    standby = var.standby.health_check_fqdn
  }
  role = {
    aws     = var.writer == "aws" ? "PRIMARY" : "SECONDARY"
    standby = var.writer == "aws" ? "SECONDARY" : "PRIMARY"
  }
}

# Each side is healthy while its readiness endpoint answers 200 with "ready" in the body ({"status":"ready"}): the
# service's own verdict on its store, and 503 while it drains or its store is down.
resource "aws_route53_health_check" "side" {
  for_each = local.sides

  type              = "HTTPS_STR_MATCH"
  fqdn              = each.value
  port              = 443
  resource_path     = local.contract.readiness_path
  search_string     = "ready"
  enable_sni        = true
  request_interval  = local.cadence.health_check_interval_seconds
  failure_threshold = local.cadence.threshold_count
  regions           = var.health_checks.regions

  tags = {
    Name = "${var.name}-${each.key}-readiness"
  }
}

resource "aws_route53_record" "aws" {
  zone_id         = var.record.zone_id
  name            = var.record.name
  type            = "A"
  set_identifier  = "aws"
  health_check_id = aws_route53_health_check.side["aws"].id

  failover_routing_policy {
    type = local.role.aws
  }

  alias {
    name                   = var.aws.accelerator_dns_name
    zone_id                = local.accelerator_zone_id
    evaluate_target_health = false
  }
}

resource "aws_route53_record" "standby" {
  #checkov:skip=CKV2_AWS_23:the standby's addresses are another cloud's load balancer, not an AWS resource to attach
  zone_id         = var.record.zone_id
  name            = var.record.name
  type            = "A"
  ttl             = var.record.ttl
  records         = var.standby.ipv4_addresses
  set_identifier  = "standby"
  health_check_id = aws_route53_health_check.side["standby"].id

  failover_routing_policy {
    type = local.role.standby
  }
}

# A side that fails its checks pages: either the writer is down (clients are being moved to the other side) or the
# standby cannot take over if it must.
resource "aws_cloudwatch_metric_alarm" "side_unhealthy" {
  for_each = length(var.health_checks.alarm_topic_arns) == 0 ? {} : local.sides

  alarm_name          = "${var.name}-cross-cloud-${each.key}-unhealthy"
  alarm_description   = "Route 53's checkers find ${each.key} (${each.value}) not ready on ${local.contract.readiness_path}. Runbook: ${var.runbook_url}#failing-over-to-the-other-cloud-and-back"
  namespace           = "AWS/Route53"
  metric_name         = "HealthCheckStatus"
  dimensions          = { HealthCheckId = aws_route53_health_check.side[each.key].id }
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = 2
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = var.health_checks.alarm_topic_arns
  ok_actions          = var.health_checks.alarm_topic_arns
}
