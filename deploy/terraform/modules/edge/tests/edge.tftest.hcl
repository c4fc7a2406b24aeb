# Plan-time checks of the ALB, target group and WAF with a mocked AWS provider.
mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

# A known ARN lets the WAF run compare the association and the logging configuration with the web ACL at plan time.
override_resource {
  target          = aws_wafv2_web_acl.this
  override_during = plan
  values          = { arn = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/hello-birthday-staging/00000000-0000-0000-0000-000000000000" }
}

variables {
  name = "hello-birthday-staging"
  network = {
    vpc_id            = "vpc-0123456789abcdef0"
    vpc_cidr_block    = "10.20.0.0/16"
    public_subnet_ids = ["subnet-a", "subnet-b", "subnet-c"]
  }
  load_balancer = {
    certificate_arn     = "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
    deletion_protection = false
  }
  target = {
    port                 = 8080
    health_check_path    = "/readyz"
    health_check         = jsondecode(file("../../../service-contract.json")).load_balancer_health_check
    public_path_patterns = ["/hello/*"]
  }
  waf = { log_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
}

run "metrics_not_reachable_from_internet" {
  command = plan

  assert {
    # ALB path patterns are globs: turn each into a regex and make sure none matches /metrics (or the probes).
    condition = !anytrue(flatten([
      for p in flatten([for c in aws_lb_listener_rule.service.condition : c.path_pattern[0].values]) : [
        for path in ["/metrics", "/healthz", "/readyz"] :
        can(regex("^${replace(replace(replace(p, ".", "\\."), "*", ".*"), "?", ".")}$", path))
      ]
    ]))
    error_message = "/metrics and the probe endpoints must not match any forwarded path pattern."
  }
  assert {
    condition     = can(regex("^${replace(replace(one(flatten([for c in aws_lb_listener_rule.service.condition : c.path_pattern[0].values])), ".", "\\."), "*", ".*")}$", "/hello/alice"))
    error_message = "The forwarded pattern must reach /hello/{username}."
  }
  assert {
    condition     = aws_lb_listener.https.default_action[0].type == "fixed-response" && aws_lb_listener.https.default_action[0].fixed_response[0].status_code == "404"
    error_message = "Anything not explicitly routed must get a fixed 404 from the ALB."
  }
  assert {
    condition     = length(aws_lb_listener_rule.service.action) == 1 && aws_lb_listener_rule.service.action[0].type == "forward"
    error_message = "The single listener rule forwards to the service."
  }
}

run "target_group" {
  command = plan

  assert {
    condition = (
      aws_lb_target_group.service.health_check[0].path == "/readyz" && aws_lb_target_group.service.port == 8080 && aws_lb_target_group.service.target_type == "ip"
      && aws_lb_target_group.service.health_check[0].interval == jsondecode(file("../../../service-contract.json")).load_balancer_health_check.interval_seconds
      && aws_lb_target_group.service.health_check[0].unhealthy_threshold == jsondecode(file("../../../service-contract.json")).load_balancer_health_check.unhealthy_threshold
      && aws_lb_target_group.service.health_check[0].timeout == jsondecode(file("../../../service-contract.json")).load_balancer_health_check.timeout_seconds
    )
    error_message = "The target group polls /readyz on the service port of awsvpc (ip) targets, at the cadence of deploy/service-contract.json."
  }
  assert {
    condition     = aws_lb_target_group.service.deregistration_delay <= 30
    error_message = "The deregistration delay must be short."
  }
}

run "listeners_and_alb" {
  command = plan

  assert {
    condition     = aws_lb_listener.http.default_action[0].type == "redirect" && aws_lb_listener.http.default_action[0].redirect[0].protocol == "HTTPS"
    error_message = "HTTP must redirect to HTTPS."
  }
  assert {
    condition     = startswith(aws_lb_listener.https.ssl_policy, "ELBSecurityPolicy-TLS13-") && aws_lb_listener.https.protocol == "HTTPS"
    error_message = "HTTPS uses a TLS 1.3 policy."
  }
  assert {
    condition     = aws_lb.this.access_logs[0].enabled && aws_lb.this.drop_invalid_header_fields && aws_lb.this.enable_deletion_protection == false
    error_message = "ALB access logs on, invalid headers dropped, deletion protection as requested."
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.access_logs.rule[0].expiration[0].days > 0 && aws_s3_bucket_public_access_block.access_logs.block_public_policy
    error_message = "Access logs expire and their bucket is private."
  }
}

run "only_alb_open_to_internet_on_80_443" {
  command = plan

  assert {
    condition     = toset([for r in aws_vpc_security_group_ingress_rule.alb_public : r.from_port]) == toset([80, 443]) && alltrue([for r in aws_vpc_security_group_ingress_rule.alb_public : r.from_port == r.to_port])
    error_message = "The ALB accepts the internet on 80 and 443 only."
  }
  assert {
    condition     = aws_vpc_security_group_egress_rule.alb_to_service.cidr_ipv4 == "10.20.0.0/16" && aws_vpc_security_group_egress_rule.alb_to_service.from_port == 8080
    error_message = "The ALB only connects to the service port inside the VPC."
  }
}

run "waf" {
  command = plan

  assert {
    condition = (
      aws_wafv2_web_acl_association.alb.resource_arn == aws_lb.this.arn
      && aws_wafv2_web_acl_association.alb.web_acl_arn == aws_wafv2_web_acl.this.arn
      && aws_wafv2_web_acl_logging_configuration.this.resource_arn == aws_wafv2_web_acl.this.arn
      && toset(aws_wafv2_web_acl_logging_configuration.this.log_destination_configs) == toset([aws_cloudwatch_log_group.waf.arn])
    )
    error_message = "WAF must protect the ALB and log."
  }
  assert {
    condition     = length([for r in aws_wafv2_web_acl.this.rule : r if length(r.statement[0].rate_based_statement) > 0]) == 1
    error_message = "WAF must rate-limit per IP."
  }
  assert {
    condition     = length([for r in aws_wafv2_web_acl.this.rule : r if length(r.statement[0].managed_rule_group_statement) > 0]) >= 3
    error_message = "WAF must use AWS managed rule groups."
  }
  assert {
    condition     = aws_cloudwatch_log_group.waf.retention_in_days > 0
    error_message = "WAF logs need a retention."
  }
}

run "production_protection" {
  command = plan
  variables {
    load_balancer = merge(var.load_balancer, { deletion_protection = true })
  }
  assert {
    condition     = aws_lb.this.enable_deletion_protection
    error_message = "Deletion protection must reach the ALB."
  }
}

run "rejects_metrics_pattern" {
  command = plan
  variables {
    target = merge(var.target, { public_path_patterns = ["/metrics"] })
  }
  expect_failures = [var.target]
}

run "rejects_catch_all_pattern" {
  command = plan
  variables {
    target = merge(var.target, { public_path_patterns = ["/*"] })
  }
  expect_failures = [var.target]
}

run "rejects_non_acm_certificate" {
  command = plan
  variables {
    load_balancer = merge(var.load_balancer, { certificate_arn = "arn:aws:iam::123456789012:server-certificate/legacy" })
  }
  expect_failures = [var.load_balancer]
}

run "alb_idle_timeout_is_the_input_the_service_is_tied_to" {
  command = plan

  assert {
    condition     = aws_lb.this.idle_timeout == 60 && output.idle_timeout_seconds == 60
    error_message = "The ALB idle timeout must default to AWS's 60 s and be exported for the service's IDLE_TIMEOUT."
  }
}

run "no_readiness_rule_by_default" {
  command = plan

  assert {
    condition     = length(aws_lb_listener_rule.readiness) == 0 && length(output.readiness_source_cidrs) == 0
    error_message = "Without readiness_host, the readiness path is routed nowhere: the default 404."
  }
}

run "readiness_for_route53_checkers_only" {
  command = plan
  variables {
    target = {
      port                 = 8080
      health_check_path    = "/readyz"
      health_check         = jsondecode(file("../../../service-contract.json")).load_balancer_health_check
      public_path_patterns = ["/hello/*"]
      readiness_host = {
        host         = "health-aws.example.com"
        source_cidrs = ["54.183.255.128/26", "54.228.16.0/26", "54.232.40.64/26", "107.23.255.0/26", "176.34.159.192/26"]
      }
    }
  }

  assert {
    condition     = length(aws_lb_listener_rule.readiness) == 3 && alltrue([for rule in aws_lb_listener_rule.readiness : rule.priority < aws_lb_listener_rule.service.priority])
    error_message = "The checkers' 5 ranges take 3 rules (an ALB rule holds 5 condition values), all ahead of the public rule."
  }
  assert {
    condition = alltrue([for rule in aws_lb_listener_rule.readiness : (
      one([for c in rule.condition : c.host_header[0].values if length(c.host_header) > 0]) == toset(["health-aws.example.com"])
      && one([for c in rule.condition : c.path_pattern[0].values if length(c.path_pattern) > 0]) == toset(["/readyz"])
      && one([for c in rule.condition : c.http_request_method[0].values if length(c.http_request_method) > 0]) == toset(["GET"])
      && length(one([for c in rule.condition : c.source_ip[0].values if length(c.source_ip) > 0])) <= 2
      && rule.action[0].type == "forward" && rule.action[0].target_group_arn == aws_lb_target_group.service.arn
    )])
    error_message = "Each rule forwards only GET of the readiness path on the health host, from at most 2 checker ranges."
  }
  assert {
    condition     = toset(output.readiness_source_cidrs) == toset(["54.183.255.128/26", "54.228.16.0/26", "54.232.40.64/26", "107.23.255.0/26", "176.34.159.192/26"])
    error_message = "Every checker range, and only those, reaches the readiness path."
  }
  assert {
    condition     = output.forwarded_path_patterns == ["/hello/*"] && aws_lb_listener.https.default_action[0].fixed_response[0].status_code == "404"
    error_message = "The public routes stay the public path patterns; everything else keeps the fixed 404."
  }
}

run "rejects_readiness_open_to_the_internet" {
  command = plan
  variables {
    target = {
      port                 = 8080
      health_check_path    = "/readyz"
      health_check         = jsondecode(file("../../../service-contract.json")).load_balancer_health_check
      public_path_patterns = ["/hello/*"]
      readiness_host       = { host = "health-aws.example.com", source_cidrs = ["0.0.0.0/0"] }
    }
  }
  expect_failures = [var.target]
}
