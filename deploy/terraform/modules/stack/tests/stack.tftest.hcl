# Plan-time checks of the composed stack with a mocked AWS provider. Resource-level settings are tested in each
# module's own suite; this one proves the modules are wired to the service contract and to each other.
mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

override_resource {
  target          = module.data.aws_dynamodb_table.this
  override_during = plan
  values          = { arn = "arn:aws:dynamodb:eu-west-1:123456789012:table/hello-birthday-staging" }
}

override_resource {
  target          = module.registry.aws_ecr_repository.this
  override_during = plan
  values = {
    arn            = "arn:aws:ecr:eu-west-1:123456789012:repository/hello-birthday-staging"
    repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-birthday-staging"
  }
}

# The deploy role's policy names the service; a known ARN lets the tests read that policy at plan time.
override_resource {
  target          = module.service.aws_ecs_service.this
  override_during = plan
  values          = { id = "arn:aws:ecs:eu-west-1:123456789012:service/hello-birthday-staging/hello-birthday-staging" }
}

variables {
  environment  = "staging"
  image_digest = "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
  # As the roots pass it: whole, with the attributes the stack does not use.
  ci = {
    github_repository = "example/hello-birthday"
    terraform_state = {
      bucket      = "hello-birthday-tfstate-123456789012"
      kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    }
    allowed_account_ids = ["123456789012"]
  }
  network       = { vpc_cidr = "10.20.0.0/16", nat_gateway_per_az = false }
  load_balancer = { certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555" }
  service = {
    min_capacity    = 2
    max_capacity    = 4
    collector_image = "public.ecr.aws/aws-observability/aws-otel-collector@sha256:1f0ee4e3d4e9c1e7b5f1c8b1a0f0e0d0c0b0a090807060504030201000f0e0d0"
  }
  protection    = { deletion_protection = false }
  observability = { alarm_emails = ["oncall@example.com"] }
}

# deploy/service-contract.json is what the Rust tests read too; each value is asserted against the file itself.
run "matches_service_contract" {
  command = plan

  assert {
    condition     = module.edge.health_check_path == jsondecode(file("../../../service-contract.json")).readiness_path
    error_message = "The target group must probe the service's readiness path."
  }
  assert {
    condition     = module.edge.target_port == jsondecode(file("../../../service-contract.json")).container_port
    error_message = "The target group must send traffic to the service's port."
  }
  assert {
    condition     = module.service.container_port == jsondecode(file("../../../service-contract.json")).container_port && module.service.load_balancer_container_port == jsondecode(file("../../../service-contract.json")).container_port
    error_message = "The container must expose, and the service register, the contract's port."
  }
  assert {
    condition     = module.edge.forwarded_path_patterns == [jsondecode(file("../../../service-contract.json")).public_path_pattern]
    error_message = "Exactly the contract's public path pattern is forwarded."
  }
  assert {
    condition     = !contains(module.edge.forwarded_path_patterns, jsondecode(file("../../../service-contract.json")).metrics_path)
    error_message = "The metrics path must not be forwarded."
  }
  assert {
    condition     = module.data[0].partition_key == jsondecode(file("../../../service-contract.json")).dynamodb_partition_key
    error_message = "The table's partition key must be the service's."
  }
  assert {
    condition     = module.service.container_environment.HEALTHCHECK_URL == "http://127.0.0.1:${jsondecode(file("../../../service-contract.json")).container_port}${jsondecode(file("../../../service-contract.json")).liveness_path}"
    error_message = "The container health check must probe the contract's liveness path and port."
  }
  assert {
    condition     = module.service.container_environment.LISTEN_ADDR == "0.0.0.0:${jsondecode(file("../../../service-contract.json")).container_port}"
    error_message = "The service must listen on the contract's port."
  }
}

run "wiring" {
  command = plan

  assert {
    condition = (
      module.service.collector_environment.AOT_CONFIG_CONTENT == file("../../../monitoring/adot-collector.yaml")
      && module.service.collector_environment.AMP_REMOTE_WRITE_URL == module.observability.prometheus_remote_write_url
    )
    error_message = "Every task's collector runs the repository's config and writes to this environment's workspace."
  }

  assert {
    condition     = module.service.container_environment.DATABASE_URL == "dynamodb://hello-birthday-staging" && module.service.container_environment.AWS_REGION == "eu-west-1" && module.service.container_environment.LOG_FORMAT == "json"
    error_message = "The service is pointed at the stack's table, region and JSON logs."
  }
  assert {
    condition     = output.ecr_repository_url == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-birthday-staging"
    error_message = "The image comes from the stack's own repository."
  }
  assert {
    condition     = output.cluster_name == "hello-birthday-staging" && output.service_name == "hello-birthday-staging" && output.task_definition_family == "hello-birthday-staging"
    error_message = "Names follow APP-ENVIRONMENT, which the deploy workflow relies on."
  }
  assert {
    condition     = module.observability.deployment_alarm_names == ["hello-birthday-staging-alb-5xx-rate", "hello-birthday-staging-target-5xx-rate", "hello-birthday-staging-target-p99-latency"]
    error_message = "The error and latency alarms gate deployments."
  }
  assert {
    condition     = module.network.nat_gateway_count == 1 && module.data[0].deletion_protection == false && module.edge.deletion_protection == false
    error_message = "Staging: one NAT gateway, no deletion protection."
  }
  assert {
    condition     = alltrue([for anchor in values(output.runbook_links) : startswith(anchor, "https://github.com/example/hello-birthday/blob/main/docs/operations/runbook.md#")])
    error_message = "Alarms link to this repository's runbook."
  }
}

# What the workflows do with the deploy role (.github/workflows/deploy-environment.yml, image.yml) must be allowed.
run "deploy_role_serves_the_workflows" {
  command = plan

  assert {
    condition     = contains(flatten([for s in jsondecode(module.ci_access.deploy_policy).Statement : s.Action if s.Effect == "Allow" && s.Resource == "*"]), "elasticloadbalancing:DescribeTargetHealth")
    error_message = "verify-rollout.sh reads target health after each rollout (an action AWS can only grant on *)."
  }
  assert {
    condition     = alltrue([for a in ["ecs:DescribeServices", "ecs:UpdateService"] : contains(flatten([for s in jsondecode(module.ci_access.deploy_policy).Statement : s.Action if s.Resource == module.service.service_arn]), a)])
    error_message = "The deploy workflow describes and updates the stack's service."
  }
  assert {
    condition     = module.ci_access.deploy_subjects == ["repo:example/hello-birthday:ref:refs/heads/main", "repo:example/hello-birthday:environment:staging"]
    error_message = "Staging's deploy role serves the image workflow (main) and the staging environment."
  }
  assert {
    condition     = !strcontains(module.ci_access.deploy_policy, "ecr:GetDownloadUrlForLayer")
    error_message = "Staging promotes from nowhere, so its deploy role pulls nothing."
  }
}

run "production_promotes_from_staging" {
  command = plan

  variables {
    environment                 = "production"
    image_source_repository_arn = "arn:aws:ecr:eu-west-1:123456789012:repository/hello-birthday-staging"
  }

  assert {
    condition     = module.ci_access.deploy_subjects == ["repo:example/hello-birthday:environment:production"]
    error_message = "Production's deploy role is reachable from the approved production environment only, not from main."
  }
  assert {
    condition     = [for s in jsondecode(module.ci_access.deploy_policy).Statement : s.Resource if contains(flatten([s.Action]), "ecr:GetDownloadUrlForLayer")] == ["arn:aws:ecr:eu-west-1:123456789012:repository/hello-birthday-staging"]
    error_message = "Production's deploy role pulls from staging's repository and nowhere else."
  }
  assert {
    condition     = output.terraform_apply_role_arn != null && output.terraform_plan_role_arn != null
    error_message = "The stack defines the roles infra.yml assumes."
  }
}

run "production_is_protected" {
  command = plan

  variables {
    environment = "production"
    network     = { vpc_cidr = "10.30.0.0/16", nat_gateway_per_az = true }
    protection  = { deletion_protection = true }
    service     = merge(var.service, { min_capacity = 3, max_capacity = 12 })
  }

  assert {
    condition     = module.data[0].deletion_protection && module.edge.deletion_protection
    error_message = "Production's table and ALB must have deletion protection."
  }
  assert {
    condition     = module.network.nat_gateway_count == 3
    error_message = "Production has a NAT gateway per AZ."
  }
}

run "rejects_image_tag" {
  command = plan
  variables {
    image_digest = "latest"
  }
  expect_failures = [var.image_digest]
}

run "rejects_short_digest" {
  command = plan
  variables {
    image_digest = "sha256:4f53cda18c2b"
  }
  expect_failures = [var.image_digest]
}

run "rejects_unknown_environment" {
  command = plan
  variables {
    environment = "dev"
  }
  expect_failures = [var.environment]
}

# One region of production (environments/production/region): the global root owns the table, this region makes its
# replica's key and uses the replica in its own region.
run "one_region_of_a_multi_region_environment" {
  command = plan

  variables {
    environment                 = "production"
    multi_region                = true
    image_source_repository_arn = "arn:aws:ecr:eu-west-1:123456789012:repository/hello-birthday-staging"
  }

  assert {
    condition     = length(module.data) == 0 && length(module.table_key) == 1 && output.table_kms_key_arn == module.table_key[0].arn
    error_message = "A region of a multi-region environment creates its replica's key, not the table."
  }
  assert {
    condition     = jsondecode(module.service.task_policy).Statement[0].Resource == "arn:aws:dynamodb:eu-west-1:123456789012:table/hello-birthday-production" && output.table_arn == "arn:aws:dynamodb:eu-west-1:123456789012:table/hello-birthday-production"
    error_message = "The task role may use the table's replica in its own region only."
  }
  assert {
    condition     = module.service.container_environment.DATABASE_URL == "dynamodb://hello-birthday-production" && module.service.container_environment.AWS_REGION == "eu-west-1"
    error_message = "The tasks use the table by name in their own region."
  }
  assert {
    condition     = output.cluster_name == "hello-birthday-production-eu-west-1" && output.workflow.alarm_name_prefix == "hello-birthday-production-eu-west-1" && output.ecr_repository_name == "hello-birthday-production"
    error_message = "Account-wide and alarm names carry the region; the repository keeps the name image replication targets."
  }
  assert {
    condition     = module.ci_access.deploy_subjects == ["repo:example/hello-birthday:environment:production-eu-west-1"] && output.workflow.github_environment == "production-eu-west-1"
    error_message = "Each region deploys from its own GitHub environment, the unit the deploy workflow rolls out and bakes."
  }
  assert {
    condition     = alltrue([for name in module.observability.alarm_names : startswith(name, "hello-birthday-production-eu-west-1-")])
    error_message = "Every alarm of the region carries the region's prefix, which the deploy workflow's bake watches."
  }
}

run "deploy_role_reads_the_regions_alarms_for_the_bake" {
  command = plan

  assert {
    condition     = [for s in jsondecode(module.ci_access.deploy_policy).Statement : s.Resource if s.Action == "cloudwatch:DescribeAlarms"] == ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*"]
    error_message = "The bake (.github/scripts/bake.sh) reads this region's alarms, and no other region's."
  }
}
