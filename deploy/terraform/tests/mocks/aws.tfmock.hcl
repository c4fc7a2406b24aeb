# Deterministic answers for the data sources every plan-time test reads (shared by all terraform test suites).
mock_data "aws_region" {
  defaults = { name = "eu-west-1" }
}

mock_data "aws_caller_identity" {
  defaults = { account_id = "123456789012" }
}

mock_data "aws_partition" {
  defaults = { partition = "aws" }
}

mock_data "aws_availability_zones" {
  defaults = { names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"] }
}

mock_data "aws_elb_service_account" {
  defaults = { arn = "arn:aws:iam::156460612806:root" }
}

mock_resource "aws_iam_role" {
  defaults = { arn = "arn:aws:iam::123456789012:role/mocked" }
}

# Generated mock values are only known after apply; these defaults make the ARNs and computed blocks the
# assertions read known at plan time (override_during = plan).
mock_resource "aws_kms_key" {
  defaults = { arn = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000", key_id = "00000000-0000-0000-0000-000000000000" }
}

mock_resource "aws_sns_topic" {
  defaults = { arn = "arn:aws:sns:eu-west-1:123456789012:alerts" }
}

mock_resource "aws_cloudwatch_metric_alarm" {
  defaults = { arn = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:mocked" }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = { arn = "arn:aws:logs:eu-west-1:123456789012:log-group:mocked" }
}

mock_resource "aws_iam_openid_connect_provider" {
  defaults = { arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" }
}

# The account's provider, created by bootstrap/, as ci-access looks it up.
mock_data "aws_iam_openid_connect_provider" {
  defaults = { arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" }
}

mock_resource "aws_default_security_group" {
  defaults = { ingress = [], egress = [] }
}

mock_resource "aws_security_group" {
  defaults = { id = "sg-0mocked", arn = "arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0mocked" }
}

mock_resource "aws_lb" {
  defaults = {
    arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/mocked/0123456789abcdef"
    arn_suffix = "app/mocked/0123456789abcdef"
    dns_name   = "mocked-123456789.eu-west-1.elb.amazonaws.com"
  }
}

mock_resource "aws_lb_target_group" {
  defaults = {
    arn        = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/mocked/0123456789abcdef"
    arn_suffix = "targetgroup/mocked/0123456789abcdef"
  }
}

mock_resource "aws_ecs_cluster" {
  defaults = { arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/mocked", id = "arn:aws:ecs:eu-west-1:123456789012:cluster/mocked" }
}

mock_resource "aws_prometheus_workspace" {
  defaults = {
    id                  = "ws-00000000-0000-0000-0000-000000000000"
    arn                 = "arn:aws:aps:eu-west-1:123456789012:workspace/ws-00000000-0000-0000-0000-000000000000"
    prometheus_endpoint = "https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/ws-00000000-0000-0000-0000-000000000000/"
  }
}
