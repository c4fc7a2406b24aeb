locals {
  contract = jsondecode(file("${path.module}/../../../service-contract.json"))
  # Shared with the failover drill (scripts/harness/failover.py), which predicts its detection window from it.
  health_check = jsondecode(file("${path.module}/../../../entry-point.json"))
}

# Global Accelerator rather than Route 53 latency records: two static anycast addresses, so failover and the traffic
# dial act within the health-check window instead of waiting on resolvers' caches (docs/dynamodb.md, "Entry point").
resource "aws_globalaccelerator_accelerator" "this" {
  name            = var.name
  ip_address_type = "IPV4"
  enabled         = true

  dynamic "attributes" {
    for_each = var.flow_logs == null ? [] : [var.flow_logs]
    content {
      flow_logs_enabled   = true
      flow_logs_s3_bucket = attributes.value.bucket
      flow_logs_s3_prefix = attributes.value.prefix
    }
  }
}

# TCP, not UDP: TLS is terminated by each region's ALB, with its own certificate; the accelerator only carries bytes.
resource "aws_globalaccelerator_listener" "https" {
  accelerator_arn = aws_globalaccelerator_accelerator.this.id
  protocol        = "TCP"
  client_affinity = "NONE"

  port_range {
    from_port = 443
    to_port   = 443
  }
}

resource "aws_globalaccelerator_endpoint_group" "region" {
  for_each = var.regions

  listener_arn          = aws_globalaccelerator_listener.https.id
  endpoint_group_region = each.key
  # For ALB endpoints Global Accelerator follows the ALB's own target health, which modules/edge checks on the same
  # readiness path; these settings say the same for any other endpoint type and document the intended cadence.
  health_check_protocol         = "HTTPS"
  health_check_port             = 443
  health_check_path             = local.contract.readiness_path
  health_check_interval_seconds = local.health_check.health_check_interval_seconds
  threshold_count               = local.health_check.threshold_count
  traffic_dial_percentage       = each.value.traffic_dial_percentage

  endpoint_configuration {
    endpoint_id = each.value.alb_arn
    weight      = 100
    # The ALB then sees the client's address (X-Forwarded-For, WAF rate limits) instead of the accelerator's.
    client_ip_preservation_enabled = true
  }
}

# A region the accelerator has taken out of rotation (unhealthy, or dialled to 0) receives no new flows while others
# do. Global Accelerator reports NewFlowCount only when it is non-zero, hence the FILL.
resource "aws_cloudwatch_metric_alarm" "region_out_of_rotation" {
  for_each = var.regions

  alarm_name          = "${var.name}-entry-point-${each.key}-out-of-rotation"
  alarm_description   = "The entry point sends no new connections to ${each.key} while it sends some elsewhere. Runbook: ${var.runbook_url}#region-out-of-rotation"
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 3
  datapoints_to_alarm = 3
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_topic_arns
  ok_actions          = var.alarm_topic_arns

  metric_query {
    id          = "out"
    expression  = "IF(FILL(total, 0) > 0 AND FILL(region, 0) == 0, 1, 0)"
    label       = "${each.key} out of rotation"
    return_data = true
  }
  metric_query {
    id = "region"
    metric {
      namespace   = "AWS/GlobalAccelerator"
      metric_name = "NewFlowCount"
      period      = 60
      stat        = "Sum"
      dimensions = {
        Accelerator   = split("/", aws_globalaccelerator_accelerator.this.id)[1]
        Listener      = split("/", aws_globalaccelerator_listener.https.id)[3]
        EndpointGroup = each.key
      }
    }
  }
  metric_query {
    id = "total"
    metric {
      namespace   = "AWS/GlobalAccelerator"
      metric_name = "NewFlowCount"
      period      = 60
      stat        = "Sum"
      dimensions  = { Accelerator = split("/", aws_globalaccelerator_accelerator.this.id)[1] }
    }
  }
}
