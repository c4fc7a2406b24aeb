# The global view: one row per region (its load balancer's 5xx and p99, what the region's SLO alarms watch), the
# replication lag from each region to every other one (both directions of every pair: what each region's root
# alarms), and the entry point's new flows per region. Each region's own
# dashboard (modules/observability) has the details; its alarms page through that region's topic.
locals {
  widget = { width = 8, height = 6 }
  # modules/entry-point is not applied on the emulator (deploy/terraform/README.md, "Emulator exclusions"); the
  # splat reads it whether it is there (one instance) or not (none).
  accelerators = [for ep in module.entry_point[*] : ep.accelerator_id]

  global_widgets = concat(
    flatten([for region in var.regions : [
      {
        title   = "${region}: ALB and target 5xx"
        region  = region
        stat    = "Sum"
        metrics = [for m in ["HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count"] : ["AWS/ApplicationELB", m, "LoadBalancer", split("loadbalancer/", local.regions[region].alb_arn)[1]]]
      },
      {
        title   = "${region}: target response time p99"
        region  = region
        stat    = "p99"
        metrics = [["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", split("loadbalancer/", local.regions[region].alb_arn)[1]]]
      },
      {
        title   = "${region}: entry point new flows"
        region  = "us-west-2"
        stat    = "Sum"
        metrics = [for accelerator in local.accelerators : ["AWS/GlobalAccelerator", "NewFlowCount", "Accelerator", accelerator, "EndpointGroup", region]]
      },
    ]]),
    # CloudWatch publishes ReplicationLatency in the sending region.
    length(local.others) == 0 ? [] : [for sender in var.regions : {
      title   = "Replication latency from ${sender} (ms)"
      region  = sender
      stat    = "Average"
      metrics = [for region in var.regions : ["AWS/DynamoDB", "ReplicationLatency", "TableName", module.data.table_name, "ReceivingRegion", region] if region != sender]
    }],
  )
}

resource "aws_cloudwatch_dashboard" "global" {
  dashboard_name = "${local.name}-global"
  dashboard_body = jsonencode({
    widgets = [for i, w in local.global_widgets : {
      type   = "metric"
      x      = (i % 3) * local.widget.width
      y      = floor(i / 3) * local.widget.height
      width  = local.widget.width
      height = local.widget.height
      properties = {
        title   = w.title
        region  = w.region
        stat    = w.stat
        view    = "timeSeries"
        stacked = false
        period  = 60
        metrics = w.metrics
      }
    }]
  })
}
