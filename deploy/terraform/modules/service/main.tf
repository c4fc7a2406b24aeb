data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  contract = jsondecode(file("${path.module}/../../../service-contract.json"))
  # After SIGTERM the service exits within drain delay + grace + a fixed bound on closing the
  # store, flushing logs and stopping the runtime (SHUTDOWN_OVERHEAD in src/lifecycle.rs, equal
  # to the contract's figure by a Rust test). ECS must not SIGKILL it before that.
  shutdown_overhead_seconds = local.contract.shutdown_overhead_seconds
  stop_timeout_ok           = var.timeouts.stop_timeout_seconds > var.timeouts.drain_delay_seconds + var.timeouts.shutdown_grace_seconds + local.shutdown_overhead_seconds

  # The task must keep idle keep-alive connections open longer than the ALB does, so the ALB
  # is always the side that closes them: a request it sends on a connection the task is
  # closing becomes a 502.
  idle_timeout_seconds = coalesce(var.timeouts.idle_timeout_seconds, var.load_balancer.idle_timeout_seconds + 15)
  idle_timeout_ok      = local.idle_timeout_seconds > var.load_balancer.idle_timeout_seconds

  environment = {
    AWS_REGION          = data.aws_region.current.name
    DATABASE_URL        = "dynamodb://${var.table.name}"
    DRAIN_DELAY         = "${var.timeouts.drain_delay_seconds}s"
    HEADER_READ_TIMEOUT = "${var.timeouts.header_read_timeout_seconds}s"
    HEALTHCHECK_URL     = "http://127.0.0.1:${var.container.port}${var.container.liveness_path}"
    IDLE_TIMEOUT        = "${local.idle_timeout_seconds}s"
    LISTEN_ADDR         = "0.0.0.0:${var.container.port}"
    LOG_FORMAT          = "json"
    SHUTDOWN_GRACE      = "${var.timeouts.shutdown_grace_seconds}s"
  }

  container = {
    name      = var.container.name
    image     = var.container.image
    essential = true
    user      = var.container.user
    portMappings = [{
      name          = "http"
      containerPort = var.container.port
      hostPort      = var.container.port
      protocol      = "tcp"
      appProtocol   = "http"
    }]
    environment            = [for k in sort(keys(local.environment)) : { name = k, value = local.environment[k] }]
    readonlyRootFilesystem = true
    privileged             = false
    # Fargate has no no-new-privileges option; with a non-root user and an empty capability set a process
    # cannot gain privileges, not even through a setuid binary.
    linuxParameters = {
      initProcessEnabled = true
      capabilities       = { drop = ["ALL"] }
    }
    healthCheck = {
      command     = ["CMD", "/hello-birthday", "healthcheck"]
      interval    = 10
      timeout     = 5
      retries     = 3
      startPeriod = 10
    }
    stopTimeout = var.timeouts.stop_timeout_seconds
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.app.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "app"
        # A slow log pipeline must never block request handling.
        mode            = "non-blocking"
        max-buffer-size = "4m"
      }
    }
  }
}

# The ADOT collector beside the service: scrapes its /metrics on localhost (never exposed: no port mapping, and the
# task's security group admits only the ALB on the service port), adds the task's CPU and memory, and
# remote-writes to the Prometheus workspace. Not essential: if it stops, the service keeps serving, and the
# workspace's MetricsAbsent rule and the ingestion alarm say so.
locals {
  collector = {
    name      = var.collector.container_name
    image     = var.collector.image
    essential = false
    user      = var.collector.user
    # A hard limit of its own: a collector that leaks memory is killed, not the service beside it.
    memory = var.collector.memory
    environment = [
      { name = "AMP_REMOTE_WRITE_URL", value = var.collector.remote_write_url },
      { name = "AOT_CONFIG_CONTENT", value = var.collector.config },
      { name = "AWS_REGION", value = data.aws_region.current.name },
    ]
    readonlyRootFilesystem = true
    privileged             = false
    linuxParameters        = { capabilities = { drop = ["ALL"] } }
    healthCheck = {
      command     = ["CMD", "/healthcheck"]
      interval    = 30
      timeout     = 5
      retries     = 3
      startPeriod = 10
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.app.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "collector"
        mode                  = "non-blocking"
        max-buffer-size       = "1m"
      }
    }
  }
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  # Always on: the running-tasks alarm reads its metrics.
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "app" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.observability.log_retention_days
  kms_key_id        = var.observability.log_kms_key_arn
  #checkov:skip=CKV_AWS_338:Application logs are for debugging; retention is set per environment (30-90 days), not kept a year.
}

# --- IAM: the execution role starts the task, the task role is what the service's code can do. ---

locals {
  ecs_tasks_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
        ArnLike      = { "aws:SourceArn" = "arn:${data.aws_partition.current.partition}:ecs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:*" }
      }
    }]
  })
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  description        = "Pulls the image and ships logs for ${var.name} tasks"
  assume_role_policy = local.ecs_tasks_trust
}

resource "aws_iam_role_policy" "execution" {
  name = "pull-image-write-logs"
  role = aws_iam_role.execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "EcrLogin"
        Effect   = "Allow"
        Action   = "ecr:GetAuthorizationToken"
        Resource = "*"
      },
      {
        Sid      = "PullServiceImage"
        Effect   = "Allow"
        Action   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
        Resource = var.container.repository_arn
      },
      {
        Sid      = "WriteLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.app.arn}:*"
      },
    ]
  })
}

resource "aws_iam_role" "task" {
  name               = "${var.name}-task"
  description        = "What the hello-birthday service itself may do: read and write its one table"
  assume_role_policy = local.ecs_tasks_trust
}

resource "aws_iam_role_policy" "task" {
  name = "users-table"
  role = aws_iam_role.task.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "UsersTable"
      Effect   = "Allow"
      Action   = ["dynamodb:GetItem", "dynamodb:PutItem"]
      Resource = var.table.arn
    }]
  })
}

resource "aws_iam_role_policy" "task_remote_write" {
  name = "prometheus-remote-write"
  role = aws_iam_role.task.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "CollectorWritesMetrics"
      Effect   = "Allow"
      Action   = "aps:RemoteWrite"
      Resource = var.collector.workspace_arn
    }]
  })
}

# --- Network ---

resource "aws_security_group" "task" {
  name        = "${var.name}-task"
  description = "${var.name} tasks: service port from the ALB only, HTTPS out"
  vpc_id      = var.network.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "task_from_alb" {
  security_group_id            = aws_security_group.task.id
  description                  = "Requests and health checks from the ALB"
  ip_protocol                  = "tcp"
  from_port                    = var.container.port
  to_port                      = var.container.port
  referenced_security_group_id = var.load_balancer.security_group_id
}

resource "aws_vpc_security_group_egress_rule" "task_https" {
  security_group_id = aws_security_group.task.id
  # ECR, CloudWatch Logs, the Prometheus workspace and DynamoDB (through the gateway endpoint) are all HTTPS on
  # public AWS addresses.
  description = "HTTPS to AWS APIs"
  ip_protocol = "tcp"
  from_port   = 443
  to_port     = 443
  cidr_ipv4   = "0.0.0.0/0"
}

# --- Task definition and service ---

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task.cpu
  memory                   = var.task.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  # The service stays first: the deploy workflow and its scripts address containerDefinitions[0].
  container_definitions = jsonencode([local.container, local.collector])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.task.cpu_architecture
  }

  lifecycle {
    precondition {
      condition     = local.stop_timeout_ok
      error_message = "timeouts.stop_timeout_seconds must exceed drain_delay_seconds + shutdown_grace_seconds + ${local.shutdown_overhead_seconds} (the service's fixed shutdown bound, shutdown_overhead_seconds in deploy/service-contract.json), or ECS kills tasks mid-shutdown."
    }
    precondition {
      condition     = local.idle_timeout_ok
      error_message = "timeouts.idle_timeout_seconds must exceed load_balancer.idle_timeout_seconds, or the ALB reuses connections the task is closing (502s)."
    }
  }
}

resource "aws_ecs_service" "this" {
  name                               = var.name
  cluster                            = aws_ecs_cluster.this.id
  task_definition                    = aws_ecs_task_definition.this.arn
  launch_type                        = "FARGATE"
  platform_version                   = "LATEST"
  desired_count                      = var.autoscaling.min_capacity
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = var.timeouts.health_check_grace_seconds
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"
  wait_for_steady_state              = false
  # Fargate takes no placement strategies; it spreads tasks over the subnets' AZs, and rebalancing puts them
  # back into balance after an AZ recovers.
  availability_zone_rebalancing = "ENABLED"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  dynamic "alarms" {
    for_each = length(var.observability.deployment_alarm_names) > 0 ? [1] : []
    content {
      enable      = true
      rollback    = true
      alarm_names = var.observability.deployment_alarm_names
    }
  }

  network_configuration {
    subnets          = var.network.private_subnet_ids
    security_groups  = [aws_security_group.task.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = var.load_balancer.target_group_arn
    container_name   = var.container.name
    container_port   = var.container.port
  }

  lifecycle {
    # Autoscaling owns the count; the deploy workflow owns which task definition revision runs (it registers a new
    # revision with the new digest). Terraform creates the first revision and changes to the family's settings.
    ignore_changes = [desired_count, task_definition]
  }
}

# What the emulator run leaves out of this module: nothing here, and nothing in AWS. The smoke test's override file
# (deploy/terraform/tests/smoke/service_moto_override.tf.tpl, copied into this folder of its scratch copy only) sets
# ["autoscaling"]: moto has no ListTagsForResource for Application Auto Scaling, which the provider retries until it
# times out. deploy/terraform/README.md, "Emulator exclusions", lists every exclusion.
locals {
  emulator_excludes = toset([])
}

resource "aws_appautoscaling_target" "this" {
  count = contains(local.emulator_excludes, "autoscaling") ? 0 : 1

  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.autoscaling.min_capacity
  max_capacity       = var.autoscaling.max_capacity

  lifecycle {
    precondition {
      condition     = var.autoscaling.max_capacity >= var.autoscaling.min_capacity
      error_message = "autoscaling.max_capacity must be at least autoscaling.min_capacity."
    }
  }
}

locals {
  # Two target-tracking policies on the same target: scale out as soon as either asks, in when both agree.
  scaling_policies = {
    cpu = {
      target_value   = var.autoscaling.cpu_target_percent
      metric_type    = "ECSServiceAverageCPUUtilization"
      resource_label = null
    }
    requests = {
      target_value   = var.autoscaling.requests_per_target
      metric_type    = "ALBRequestCountPerTarget"
      resource_label = "${var.load_balancer.arn_suffix}/${var.load_balancer.target_group_arn_suffix}"
    }
  }
}

resource "aws_appautoscaling_policy" "target_tracking" {
  for_each = contains(local.emulator_excludes, "autoscaling") ? {} : local.scaling_policies

  name               = "${var.name}-${each.key}"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  resource_id        = aws_appautoscaling_target.this[0].resource_id
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.target_value
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    predefined_metric_specification {
      predefined_metric_type = each.value.metric_type
      resource_label         = each.value.resource_label
    }
  }
}
