# How far this region's writes trail in every other production region: the writes lost with this region if it were
# lost now (its recovery point). CloudWatch publishes ReplicationLatency in the sending region, with the receiving
# region as a dimension, so each region's root alarms its own outgoing directions and together they cover every
# ordered pair of regions in deploy/regions.json. A region added there gets its alarms towards the others here, and
# the others get theirs towards it at their next apply (infra.yml applies every region).
locals {
  peers = [for r in jsondecode(file("${path.module}/../../../../regions.json")).production : r.region if r.region != var.region]
}

resource "aws_cloudwatch_metric_alarm" "replication_latency" {
  for_each = toset(local.peers)

  # Not under the stack's alarm prefix: the rollout bake watches that prefix, and another region's lag is no reason
  # to roll this region's deployment back.
  alarm_name          = "${module.stack.table_name}-replication-latency-${var.region}-to-${each.key}"
  alarm_description   = "Writes in ${var.region} take more than ${var.replication_threshold_seconds} s to reach ${each.key}. Runbook: https://github.com/${var.ci.github_repository}/blob/main/docs/operations/runbook.md#replication-latency"
  namespace           = "AWS/DynamoDB"
  metric_name         = "ReplicationLatency"
  dimensions          = { TableName = module.stack.table_name, ReceivingRegion = each.key }
  statistic           = "Average"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.replication_threshold_seconds * 1000
  # The metric exists only while writes replicate: a quiet hour is not lag.
  treat_missing_data = "notBreaching"
  alarm_actions      = [module.stack.alert_topic_arn]
  ok_actions         = [module.stack.alert_topic_arn]
}
