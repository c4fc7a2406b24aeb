# Plan-time checks of the ECS service module with a mocked AWS provider.
mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  name = "hello-birthday-staging"
  container = {
    image          = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-birthday-staging@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
    repository_arn = "arn:aws:ecr:eu-west-1:123456789012:repository/hello-birthday-staging"
    port           = 8080
    liveness_path  = "/healthz"
  }
  autoscaling = { min_capacity = 2, max_capacity = 4 }
  network = {
    vpc_id             = "vpc-0123456789abcdef0"
    private_subnet_ids = ["subnet-a", "subnet-b", "subnet-c"]
  }
  load_balancer = {
    security_group_id       = "sg-0alb"
    target_group_arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/hello-birthday-staging/0123456789abcdef"
    arn_suffix              = "app/hello-birthday-staging/0123456789abcdef"
    target_group_arn_suffix = "targetgroup/hello-birthday-staging/0123456789abcdef"
    idle_timeout_seconds    = 60
  }
  table = {
    name = "hello-birthday-staging"
    arn  = "arn:aws:dynamodb:eu-west-1:123456789012:table/hello-birthday-staging"
  }
  observability = {
    log_kms_key_arn        = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    deployment_alarm_names = ["hello-birthday-staging-target-5xx-rate"]
  }
  collector = {
    image            = "public.ecr.aws/aws-observability/aws-otel-collector@sha256:1f0ee4e3d4e9c1e7b5f1c8b1a0f0e0d0c0b0a090807060504030201000f0e0d0"
    config           = "exporters:\n  prometheusremotewrite:\n    endpoint: $${env:AMP_REMOTE_WRITE_URL}\n"
    workspace_arn    = "arn:aws:aps:eu-west-1:123456789012:workspace/ws-00000000-0000-0000-0000-000000000000"
    remote_write_url = "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-00000000-0000-0000-0000-000000000000/api/v1/remote_write"
  }
}

run "deployment_settings" {
  command = plan

  assert {
    condition     = aws_ecs_service.this.deployment_minimum_healthy_percent == 100 && aws_ecs_service.this.deployment_maximum_percent == 200
    error_message = "Deployments must start new tasks before stopping old ones (100% min healthy, 200% max)."
  }
  assert {
    condition     = aws_ecs_service.this.deployment_circuit_breaker[0].enable && aws_ecs_service.this.deployment_circuit_breaker[0].rollback
    error_message = "The deployment circuit breaker must be on and roll back."
  }
  assert {
    condition     = aws_ecs_service.this.alarms[0].enable && aws_ecs_service.this.alarms[0].rollback && aws_ecs_service.this.alarms[0].alarm_names == toset(["hello-birthday-staging-target-5xx-rate"])
    error_message = "Deployments must roll back when the deployment alarms fire."
  }
  assert {
    condition     = aws_ecs_service.this.health_check_grace_period_seconds > 0
    error_message = "New tasks need a health check grace period."
  }
  assert {
    condition     = aws_ecs_service.this.network_configuration[0].assign_public_ip == false
    error_message = "Tasks must not get public IPs."
  }
  assert {
    condition     = length(aws_ecs_service.this.network_configuration[0].subnets) == 3 && aws_ecs_service.this.availability_zone_rebalancing == "ENABLED"
    error_message = "Tasks must be spread over the three AZs' private subnets and rebalanced."
  }
  assert {
    condition     = aws_ecs_service.this.launch_type == "FARGATE" && [for s in aws_ecs_cluster.this.setting : s.value] == ["enabled"]
    error_message = "Fargate service in a cluster with Container Insights."
  }
}

run "task_definition_hardening" {
  command = plan

  assert {
    condition     = aws_ecs_task_definition.this.runtime_platform[0].cpu_architecture == "ARM64"
    error_message = "Tasks default to ARM64."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].readonlyRootFilesystem == true
    error_message = "The root filesystem must be read-only."
  }
  assert {
    condition     = split(":", jsondecode(aws_ecs_task_definition.this.container_definitions)[0].user)[0] != "0"
    error_message = "The container must not run as root."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].privileged == false && jsondecode(aws_ecs_task_definition.this.container_definitions)[0].linuxParameters.capabilities.drop == ["ALL"]
    error_message = "No privileged mode and no capabilities: nothing to escalate with."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].stopTimeout > 20
    error_message = "stopTimeout must exceed the service's 20s shutdown grace."
  }
  assert {
    condition     = endswith(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].image, "@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945")
    error_message = "The image must be pinned by digest."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].healthCheck.command == ["CMD", "/hello-birthday", "healthcheck"]
    error_message = "The container health check must run the binary's healthcheck subcommand."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].logConfiguration.logDriver == "awslogs" && aws_cloudwatch_log_group.app.retention_in_days == 30
    error_message = "Logs go to CloudWatch through awslogs, into a group with a retention."
  }
  assert {
    condition = length(setsubtract(
      [
        { name = "DATABASE_URL", value = "dynamodb://hello-birthday-staging" },
        { name = "LISTEN_ADDR", value = "0.0.0.0:8080" },
        { name = "LOG_FORMAT", value = "json" },
        { name = "AWS_REGION", value = "eu-west-1" },
        { name = "HEALTHCHECK_URL", value = "http://127.0.0.1:8080/healthz" },
      ],
      jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment,
    )) == 0
    error_message = "The container environment must configure DynamoDB, the listen address, JSON logs, the region and the health check URL."
  }
}

run "collector_sidecar" {
  command = plan

  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[0].name == "app" && length(jsondecode(aws_ecs_task_definition.this.container_definitions)) == 2
    error_message = "The service stays the first container (the deploy scripts address it by index); the collector is second."
  }
  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.this.container_definitions)[1].essential == false
      && jsondecode(aws_ecs_task_definition.this.container_definitions)[1].memory == 128
    )
    error_message = "The collector is not essential and has its own memory limit: its failure must not stop the service."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this.container_definitions)[1].image == var.collector.image
    error_message = "The collector runs the image given by digest."
  }
  assert {
    condition = (
      !can(jsondecode(aws_ecs_task_definition.this.container_definitions)[1].portMappings)
      && jsondecode(aws_ecs_task_definition.this.container_definitions)[1].readonlyRootFilesystem == true
      && jsondecode(aws_ecs_task_definition.this.container_definitions)[1].linuxParameters.capabilities.drop == ["ALL"]
      && split(":", jsondecode(aws_ecs_task_definition.this.container_definitions)[1].user)[0] != "0"
    )
    error_message = "The collector exposes no port, writes nothing to its root file system, and runs unprivileged."
  }
  assert {
    condition = toset(jsondecode(aws_ecs_task_definition.this.container_definitions)[1].environment) == toset([
      { name = "AMP_REMOTE_WRITE_URL", value = var.collector.remote_write_url },
      { name = "AOT_CONFIG_CONTENT", value = var.collector.config },
      { name = "AWS_REGION", value = "eu-west-1" },
    ])
    error_message = "The collector gets its configuration, the workspace endpoint and the region, nothing else."
  }
  assert {
    condition = (
      jsondecode(aws_iam_role_policy.task_remote_write.policy).Statement[0].Action == "aps:RemoteWrite"
      && jsondecode(aws_iam_role_policy.task_remote_write.policy).Statement[0].Resource == var.collector.workspace_arn
      && length(jsondecode(aws_iam_role_policy.task_remote_write.policy).Statement) == 1
    )
    error_message = "The task may only remote-write, and only to its workspace."
  }
}

run "rejects_collector_tag" {
  command = plan
  variables {
    collector = merge(var.collector, { image = "public.ecr.aws/aws-observability/aws-otel-collector:latest" })
  }
  expect_failures = [var.collector]
}

run "least_privilege_task_role" {
  command = plan

  assert {
    condition     = length(jsondecode(aws_iam_role_policy.task.policy).Statement) == 1 && jsondecode(aws_iam_role_policy.task.policy).Statement[0].Effect == "Allow"
    error_message = "The task role has exactly one Allow statement."
  }
  assert {
    condition     = toset(jsondecode(aws_iam_role_policy.task.policy).Statement[0].Action) == toset(["dynamodb:GetItem", "dynamodb:PutItem"])
    error_message = "The task role may only GetItem and PutItem: readiness is on the data plane, DescribeTable is not needed."
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.task.policy).Statement[0].Resource == "arn:aws:dynamodb:eu-west-1:123456789012:table/hello-birthday-staging"
    error_message = "The task role may only touch the service's table."
  }
  assert {
    condition     = aws_iam_role.task.name != aws_iam_role.execution.name
    error_message = "Task and execution roles are separate."
  }
}

run "tasks_reachable_from_alb_only" {
  command = plan

  assert {
    condition     = aws_vpc_security_group_ingress_rule.task_from_alb.cidr_ipv4 == null && aws_vpc_security_group_ingress_rule.task_from_alb.cidr_ipv6 == null
    error_message = "Tasks must not accept traffic from any CIDR."
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.task_from_alb.referenced_security_group_id == "sg-0alb"
    error_message = "Tasks accept traffic only from the ALB's security group."
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.task_from_alb.from_port == 8080 && aws_vpc_security_group_ingress_rule.task_from_alb.to_port == 8080
    error_message = "Tasks accept only the service port."
  }
}

run "autoscaling" {
  command = plan

  assert {
    condition     = aws_appautoscaling_target.this[0].min_capacity == 2 && aws_appautoscaling_target.this[0].max_capacity == 4
    error_message = "Autoscaling bounds come from the inputs."
  }
  assert {
    condition     = aws_appautoscaling_policy.target_tracking["cpu"].target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].predefined_metric_type == "ECSServiceAverageCPUUtilization"
    error_message = "Scale on CPU."
  }
  assert {
    condition     = aws_appautoscaling_policy.target_tracking["requests"].target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].predefined_metric_type == "ALBRequestCountPerTarget" && aws_appautoscaling_policy.target_tracking["requests"].target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].resource_label == "app/hello-birthday-staging/0123456789abcdef/targetgroup/hello-birthday-staging/0123456789abcdef"
    error_message = "Scale on ALB requests per target of this target group."
  }
}

run "rejects_image_tag" {
  command = plan
  variables {
    container = merge(var.container, { image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-birthday-staging:latest" })
  }
  expect_failures = [var.container]
}

run "rejects_root_user" {
  command = plan
  variables {
    container = merge(var.container, { user = "0:0" })
  }
  expect_failures = [var.container]
}

run "rejects_stop_timeout_shorter_than_shutdown_grace" {
  command = plan
  variables {
    timeouts = { stop_timeout_seconds = 20 }
  }
  expect_failures = [aws_ecs_task_definition.this]
}

run "rejects_stop_timeout_without_the_fixed_shutdown_bound" {
  command = plan
  variables {
    # 20 s grace + 0 s drain + 5 s fixed bound = 25 s: 24 s would SIGKILL a bounded shutdown.
    timeouts = { stop_timeout_seconds = 24 }
  }
  expect_failures = [aws_ecs_task_definition.this]
}

run "service_idle_timeout_outlasts_the_alb" {
  command = plan

  assert {
    condition     = contains(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment, { name = "IDLE_TIMEOUT", value = "75s" })
    error_message = "The service's IDLE_TIMEOUT must default to the ALB idle timeout (60 s) + 15 s."
  }
  assert {
    condition     = contains(jsondecode(aws_ecs_task_definition.this.container_definitions)[0].environment, { name = "HEADER_READ_TIMEOUT", value = "5s" })
    error_message = "HEADER_READ_TIMEOUT must reach the task."
  }
}

run "rejects_service_idle_timeout_not_above_the_alb" {
  command = plan
  variables {
    timeouts = { idle_timeout_seconds = 60 }
  }
  expect_failures = [aws_ecs_task_definition.this]
}

run "rejects_single_task" {
  command = plan
  variables {
    autoscaling = { min_capacity = 1, max_capacity = 4 }
  }
  expect_failures = [var.autoscaling]
}

run "rejects_privileged_port" {
  command = plan
  variables {
    container = merge(var.container, { port = 80 })
  }
  expect_failures = [var.container]
}
