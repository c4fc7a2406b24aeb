data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name = "${var.app_name}-${var.environment}"
  # The service and this infrastructure read the same file, so port and paths cannot drift apart.
  contract = jsondecode(file("${path.module}/../../../service-contract.json"))

  runbook_url = "https://github.com/${var.github_repository}/blob/main/docs/operations/runbook.md"
  # The image workflow (main, no GitHub environment) pushes only where nothing is promoted from elsewhere; an
  # environment fed by promotion is reachable from its approval-gated GitHub environment alone.
  deploy_subjects = coalesce(var.github_deploy_subjects, concat(
    var.image_source_repository_arn == null ? ["ref:refs/heads/main"] : [],
    ["environment:${var.environment}"],
  ))

  # The deploy role names the service's resources by ARN, built here from the names modules/service gives them
  # rather than taken from its outputs: the registry-first step of a first deployment
  # (docs/operations/deployments.md#first-deployment) then creates the registry and the CI roles only, not the
  # service, its load balancer and table before an image exists. The moto smoke test checks them against what the
  # apply created (deploy/terraform/tests/rendered/wiring.py).
  arn_prefix = "arn:${data.aws_partition.current.partition}"
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id
  service_arns = {
    cluster        = "${local.arn_prefix}:ecs:${local.region}:${local.account_id}:cluster/${local.name}"
    service        = "${local.arn_prefix}:ecs:${local.region}:${local.account_id}:service/${local.name}/${local.name}"
    task_role      = "${local.arn_prefix}:iam::${local.account_id}:role/${local.name}-task"
    execution_role = "${local.arn_prefix}:iam::${local.account_id}:role/${local.name}-execution"
  }
}

module "observability" {
  source = "../observability"

  name                    = local.name
  environment             = var.environment
  runbook_url             = local.runbook_url
  alarm_emails            = var.alarm_emails
  log_retention_days      = var.log_retention_days
  alb_arn_suffix          = module.edge.alb_arn_suffix
  target_group_arn_suffix = module.edge.target_group_arn_suffix
  # Names, not the service module's outputs: the service depends on these alarms for rollbacks.
  cluster_name = local.name
  service_name = local.name
  table_name   = local.name

  enable_prometheus_alertmanager = var.enable_prometheus_alertmanager
}

module "network" {
  source = "../network"

  name                    = local.name
  cidr_block              = var.vpc_cidr
  nat_gateway_per_az      = var.nat_gateway_per_az
  flow_log_retention_days = var.log_retention_days
  log_kms_key_arn         = module.observability.kms_key_arn
}

module "edge" {
  source = "../edge"

  name                   = local.name
  vpc_id                 = module.network.vpc_id
  vpc_cidr_block         = module.network.vpc_cidr_block
  public_subnet_ids      = module.network.public_subnet_ids
  certificate_arn        = var.certificate_arn
  container_port         = local.contract.container_port
  health_check_path      = local.contract.readiness_path
  public_path_patterns   = [local.contract.public_path_pattern]
  deletion_protection    = var.deletion_protection
  force_destroy_logs     = var.force_destroy
  enable_waf             = var.enable_waf
  waf_rate_limit         = var.waf_rate_limit
  waf_log_retention_days = var.log_retention_days
  log_kms_key_arn        = module.observability.kms_key_arn
}

module "registry" {
  source = "../registry"

  name         = local.name
  force_delete = var.force_destroy
}

module "data" {
  source = "../data"

  table_name          = local.name
  partition_key       = local.contract.dynamodb_partition_key
  deletion_protection = var.deletion_protection
  key_user_role_arns  = [module.service.task_role_arn]
}

module "service" {
  source = "../service"

  name                     = local.name
  image                    = "${module.registry.repository_url}@${var.image_digest}"
  repository_arn           = module.registry.repository_arn
  cpu_architecture         = var.cpu_architecture
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  container_port           = local.contract.container_port
  liveness_path            = local.contract.liveness_path
  min_capacity             = var.min_capacity
  max_capacity             = var.max_capacity
  vpc_id                   = module.network.vpc_id
  private_subnet_ids       = module.network.private_subnet_ids
  alb_security_group_id    = module.edge.alb_security_group_id
  target_group_arn         = module.edge.target_group_arn
  alb_arn_suffix           = module.edge.alb_arn_suffix
  target_group_arn_suffix  = module.edge.target_group_arn_suffix
  alb_idle_timeout_seconds = module.edge.idle_timeout_seconds
  table_name               = module.data.table_name
  table_arn                = module.data.table_arn
  log_retention_days       = var.log_retention_days
  log_kms_key_arn          = module.observability.kms_key_arn
  deployment_alarm_names   = module.observability.deployment_alarm_names
  enable_autoscaling       = var.enable_autoscaling

  collector_image             = var.collector_image
  collector_config            = file("${path.module}/../../../monitoring/adot-collector.yaml")
  prometheus_workspace_arn    = module.observability.prometheus_workspace_arn
  prometheus_remote_write_url = module.observability.prometheus_remote_write_url
}

module "ci_access" {
  source = "../ci-access"

  name                   = "${local.name}-deploy"
  github_repository      = var.github_repository
  github_subjects        = local.deploy_subjects
  repository_arn         = module.registry.repository_arn
  cluster_arn            = local.service_arns.cluster
  service_arn            = local.service_arns.service
  task_definition_family = local.name
  pass_role_arns         = [local.service_arns.task_role, local.service_arns.execution_role]

  image_source_repository_arn = var.image_source_repository_arn

  # Must match the key .github/scripts/terraform-env.sh and backend.hcl.example use.
  terraform_state = {
    bucket      = var.terraform_state_bucket
    key         = "${var.app_name}/${var.environment}/terraform.tfstate"
    kms_key_arn = var.terraform_state_kms_key_arn
  }
  terraform_plan_role_name  = "${local.name}-terraform-plan"
  terraform_apply_role_name = "${local.name}-terraform-apply"
  terraform_apply_subjects  = ["environment:${var.environment}-infra"]
}

