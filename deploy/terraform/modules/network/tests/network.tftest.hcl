mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  name               = "hello-birthday-staging"
  cidr_block         = "10.20.0.0/16"
  nat_gateway_per_az = false
  log_kms_key_arn    = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"
}

run "single_nat" {
  command = plan

  assert {
    condition     = length(aws_subnet.public) == 3 && length(aws_subnet.private) == 3 && length(distinct(concat(aws_subnet.public[*].availability_zone, aws_subnet.private[*].availability_zone))) == 3
    error_message = "Three AZs, each with a public and a private subnet."
  }
  assert {
    condition     = length(aws_nat_gateway.this) == 1
    error_message = "One shared NAT gateway when not per AZ."
  }
  assert {
    condition     = !anytrue(aws_subnet.public[*].map_public_ip_on_launch)
    error_message = "No implicit public IPs."
  }
  assert {
    condition     = aws_vpc_endpoint.dynamodb.vpc_endpoint_type == "Gateway" && aws_vpc_endpoint.dynamodb.service_name == "com.amazonaws.eu-west-1.dynamodb"
    error_message = "DynamoDB is reached through a gateway endpoint."
  }
  assert {
    condition     = aws_flow_log.this.traffic_type == "ALL" && aws_cloudwatch_log_group.flow_logs.retention_in_days == 30
    error_message = "VPC flow logs capture all traffic, into a group with a retention."
  }
  assert {
    condition     = length(aws_default_security_group.this.ingress) == 0 && length(aws_default_security_group.this.egress) == 0
    error_message = "The default security group has no rules."
  }
}

run "nat_per_az" {
  command = plan
  variables {
    nat_gateway_per_az = true
  }
  assert {
    condition     = length(aws_nat_gateway.this) == 3 && length(aws_eip.nat) == 3
    error_message = "One NAT gateway per AZ."
  }
}

run "rejects_small_vpc" {
  command = plan
  variables {
    cidr_block = "10.20.0.0/24"
  }
  expect_failures = [var.cidr_block]
}

run "rejects_bad_retention" {
  command = plan
  variables {
    flow_log_retention_days = 10
  }
  expect_failures = [var.flow_log_retention_days]
}
