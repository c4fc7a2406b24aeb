data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  # Names of regional resources that must be the same in every region: the table (one global table), the ECR
  # repository (the replication target), the ALB and target group (32 characters at most).
  name = "${var.app_name}-${var.environment}"
  # Everything else carries the region in a multi-region environment: IAM roles and dashboards are account-wide, and
  # alarms, clusters and log groups are easier to tell apart on the global dashboard and in pages.
  regional_name = var.multi_region ? "${local.name}-${local.region}" : local.name
  # The service and this infrastructure read the same file, so port and paths cannot drift apart.
  contract = jsondecode(file("${path.module}/../../../service-contract.json"))

  runbook_url = "https://github.com/${var.ci.github_repository}/blob/main/docs/operations/runbook.md"
  # The image workflow (main, no GitHub environment) pushes only where nothing is promoted from elsewhere; an
  # environment fed by promotion is reachable from its approval-gated GitHub environment alone.
  # A multi-region environment has one GitHub environment per region (production-eu-west-1, ...), the unit the
  # deploy workflow rolls out and bakes.
  github_environment = var.multi_region ? "${var.environment}-${local.region}" : var.environment
  deploy_subjects = coalesce(var.ci.deploy_subjects, concat(
    var.image_source_repository_arn == null ? ["ref:refs/heads/main"] : [],
    ["environment:${local.github_environment}"],
  ))
  # One state per root; in a multi-region environment the plan role of each region may read all of them (the
  # global root's plan reads every region's outputs).
  terraform_state_key = var.multi_region ? "${var.app_name}/${var.environment}/*" : "${var.app_name}/${var.environment}/terraform.tfstate"

  # The deploy role names the service's resources by ARN, built here from the names modules/service gives them
  # rather than taken from its outputs: the registry-first step of a first deployment
  # (docs/operations/deployments.md#first-deployment) then creates the registry and the CI roles only, not the
  # service, its load balancer and table before an image exists. The moto smoke test checks them against what the
  # apply created (deploy/terraform/tests/rendered/wiring.py).
  arn_prefix = "arn:${data.aws_partition.current.partition}"
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id
  service_arns = {
    cluster        = "${local.arn_prefix}:ecs:${local.region}:${local.account_id}:cluster/${local.regional_name}"
    service        = "${local.arn_prefix}:ecs:${local.region}:${local.account_id}:service/${local.regional_name}/${local.regional_name}"
    task_role      = "${local.arn_prefix}:iam::${local.account_id}:role/${local.regional_name}-task"
    execution_role = "${local.arn_prefix}:iam::${local.account_id}:role/${local.regional_name}-execution"
  }
  # In a multi-region environment the global root owns the table and its replicas; this region's tasks use the
  # replica in their own region, by name, and may touch nothing else.
  table_arn = var.multi_region ? "${local.arn_prefix}:dynamodb:${local.region}:${local.account_id}:table/${local.name}" : module.data[0].table_arn
}

module "observability" {
  source = "../observability"

  name               = local.regional_name
  environment        = var.environment
  runbook_url        = local.runbook_url
  alarm_emails       = var.observability.alarm_emails
  log_retention_days = var.observability.log_retention_days
  watched = {
    alb_arn_suffix          = module.edge.alb_arn_suffix
    target_group_arn_suffix = module.edge.target_group_arn_suffix
    # Names, not the service module's outputs: the service depends on these alarms for rollbacks.
    cluster_name = local.regional_name
    service_name = local.regional_name
    table_name   = local.name
  }
}

module "network" {
  source = "../network"

  name                    = local.regional_name
  cidr_block              = var.network.vpc_cidr
  nat_gateway_per_az      = var.network.nat_gateway_per_az
  flow_log_retention_days = var.observability.log_retention_days
  log_kms_key_arn         = module.observability.kms_key_arn
}

module "edge" {
  source = "../edge"

  name = local.name
  network = {
    vpc_id            = module.network.vpc_id
    vpc_cidr_block    = module.network.vpc_cidr_block
    public_subnet_ids = module.network.public_subnet_ids
  }
  load_balancer = {
    certificate_arn     = var.load_balancer.certificate_arn
    deletion_protection = var.protection.deletion_protection
  }
  target = {
    port                 = local.contract.container_port
    health_check_path    = local.contract.readiness_path
    health_check         = local.contract.load_balancer_health_check
    public_path_patterns = [local.contract.public_path_pattern]
    readiness_host       = var.load_balancer.readiness_host
  }
  access_logs = { force_destroy = var.protection.force_destroy }
  waf = {
    rate_limit         = var.load_balancer.waf_rate_limit
    log_retention_days = var.observability.log_retention_days
    log_kms_key_arn    = module.observability.kms_key_arn
  }
}

module "registry" {
  source = "../registry"

  name         = local.name
  force_delete = var.protection.force_destroy
}

module "data" {
  source = "../data"
  count  = var.multi_region ? 0 : 1

  table_name          = local.name
  partition_key       = local.contract.dynamodb_partition_key
  deletion_protection = var.protection.deletion_protection
  key_user_role_arns  = [module.service.task_role_arn]
}

# The key of this region's replica (the global root passes it to the table); a single-region stack's table makes its own.
module "table_key" {
  source = "../table-key"
  count  = var.multi_region ? 1 : 0

  table_name         = local.name
  key_user_role_arns = [module.service.task_role_arn]
}

module "service" {
  source = "../service"

  name = local.regional_name
  container = {
    image          = "${module.registry.repository_url}@${var.image_digest}"
    repository_arn = module.registry.repository_arn
    port           = local.contract.container_port
    liveness_path  = local.contract.liveness_path
  }
  task = {
    cpu              = var.service.cpu
    memory           = var.service.memory
    cpu_architecture = var.service.cpu_architecture
  }
  autoscaling = {
    min_capacity = var.service.min_capacity
    max_capacity = var.service.max_capacity
  }
  network = {
    vpc_id             = module.network.vpc_id
    private_subnet_ids = module.network.private_subnet_ids
  }
  load_balancer = {
    security_group_id       = module.edge.alb_security_group_id
    target_group_arn        = module.edge.target_group_arn
    arn_suffix              = module.edge.alb_arn_suffix
    target_group_arn_suffix = module.edge.target_group_arn_suffix
    idle_timeout_seconds    = module.edge.idle_timeout_seconds
  }
  table = {
    name = local.name
    arn  = local.table_arn
  }
  observability = {
    log_kms_key_arn        = module.observability.kms_key_arn
    log_retention_days     = var.observability.log_retention_days
    deployment_alarm_names = module.observability.deployment_alarm_names
  }
  collector = {
    image            = var.service.collector_image
    config           = file("${path.module}/../../../monitoring/adot-collector.yaml")
    workspace_arn    = module.observability.prometheus_workspace_arn
    remote_write_url = module.observability.prometheus_remote_write_url
  }
}

module "ci_access" {
  source = "../ci-access"

  github_repository = var.ci.github_repository
  deploy = {
    role_name                   = "${local.regional_name}-deploy"
    subjects                    = local.deploy_subjects
    repository_arn              = module.registry.repository_arn
    image_source_repository_arn = var.image_source_repository_arn
    cluster_arn                 = local.service_arns.cluster
    service_arn                 = local.service_arns.service
    task_definition_family      = local.regional_name
    pass_role_arns              = [local.service_arns.task_role, local.service_arns.execution_role]
  }
  terraform = {
    # The key must match the one .github/scripts/terraform-env.sh and backend.hcl.example use.
    state = {
      bucket      = var.ci.terraform_state.bucket
      key         = local.terraform_state_key
      kms_key_arn = var.ci.terraform_state.kms_key_arn
    }
    plan_role_name  = "${local.regional_name}-terraform-plan"
    apply_role_name = "${local.regional_name}-terraform-apply"
    apply_subjects  = ["environment:${var.environment}-infra"]
  }
}
