data "aws_caller_identity" "current" {}
data "aws_elb_service_account" "current" {}
data "aws_region" "current" {}

locals {
  # Readiness rules take priorities from 10 on, ahead of the public rule (100): target.readiness_host allows 40 ranges,
  # so at most 20 rules (10-29).
  readiness_first_priority = 10
  readiness_cidr_groups    = var.target.readiness_host == null ? [] : chunklist(var.target.readiness_host.source_cidrs, 2)
}

# --- Security group: the only one in the stack that accepts traffic from the internet, and only on 80/443. ---

resource "aws_security_group" "alb" {
  name        = "${var.name}-alb"
  description = "Internet-facing ALB of ${var.name}: HTTP/HTTPS in, service port into the VPC out"
  vpc_id      = var.network.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "alb_public" {
  for_each = { http = 80, https = 443 }

  security_group_id = aws_security_group.alb.id
  description       = "${upper(each.key)} from the internet"
  ip_protocol       = "tcp"
  from_port         = each.value
  to_port           = each.value
  cidr_ipv4         = "0.0.0.0/0"
  #checkov:skip=CKV_AWS_260:Port 80 is open on purpose: the listener only redirects to HTTPS.
}

resource "aws_vpc_security_group_egress_rule" "alb_to_service" {
  security_group_id = aws_security_group.alb.id
  description       = "Requests and health checks to the service port"
  ip_protocol       = "tcp"
  from_port         = var.target.port
  to_port           = var.target.port
  cidr_ipv4         = var.network.vpc_cidr_block
}

# --- Access logs ---

resource "aws_s3_bucket" "access_logs" {
  # Bucket names are global: the region keeps one environment's regions apart (63 characters at most, which
  # a 26-character name, -alb-logs-, the account and ap-southeast-2 just fill).
  bucket        = "${var.name}-alb-logs-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}"
  force_destroy = var.access_logs.force_destroy
  #checkov:skip=CKV_AWS_18:This is the log bucket; logging its own access would recurse.
  #checkov:skip=CKV_AWS_144:Access logs are reproducible telemetry, not data worth a second region.
  #checkov:skip=CKV2_AWS_62:Nothing consumes events from the log bucket.
  #checkov:skip=CKV_AWS_145:ALB access log delivery only supports SSE-S3 (AES256) encryption, not KMS.
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  rule {
    apply_server_side_encryption_by_default {
      # ALB log delivery supports only SSE-S3, not KMS keys.
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.access_logs.retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # Older regions deliver as the regional ELB account, newer ones as the log delivery service principal.
        Sid    = "AlbLogDelivery"
        Effect = "Allow"
        Principal = {
          AWS     = data.aws_elb_service_account.current.arn
          Service = "logdelivery.elasticloadbalancing.amazonaws.com"
        }
        Action   = "s3:PutObject"
        Resource = "${aws_s3_bucket.access_logs.arn}/alb/AWSLogs/${data.aws_caller_identity.current.account_id}/*"
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.access_logs.arn, "${aws_s3_bucket.access_logs.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })

  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}

# --- Load balancer ---

resource "aws_lb" "this" {
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = var.network.public_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.load_balancer.deletion_protection
  idle_timeout               = var.load_balancer.idle_timeout_seconds
  #checkov:skip=CKV2_AWS_76:The web ACL below includes AWSManagedRulesKnownBadInputsRuleSet (CKV_AWS_192 passes); this graph check does not follow the association to it.

  access_logs {
    bucket  = aws_s3_bucket.access_logs.id
    prefix  = "alb"
    enabled = true
  }

  depends_on = [aws_s3_bucket_policy.access_logs]
}

resource "aws_lb_target_group" "service" {
  name        = var.name
  vpc_id      = var.network.vpc_id
  target_type = "ip"
  protocol    = "HTTP"
  port        = var.target.port
  # Short: the task reports 503 on /readyz as soon as it gets SIGTERM, so the ALB stops routing to it well
  # before the delay runs out, and deployments do not sit idle for the 300s default.
  deregistration_delay = var.target.deregistration_delay
  #checkov:skip=CKV_AWS_378:TLS terminates at the ALB; the hop to the task stays inside the VPC's private subnets.

  health_check {
    enabled             = true
    path                = var.target.health_check_path
    port                = "traffic-port"
    protocol            = "HTTP"
    matcher             = "200"
    interval            = var.target.health_check.interval_seconds
    timeout             = var.target.health_check.timeout_seconds
    healthy_threshold   = var.target.health_check.healthy_threshold
    unhealthy_threshold = var.target.health_check.unhealthy_threshold
  }
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  # TLS 1.3 with TLS 1.2 fallback and forward-secret ciphers only.
  ssl_policy      = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn = var.load_balancer.certificate_arn

  # Anything not explicitly routed, notably /metrics, /healthz and /readyz, never reaches a task.
  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      status_code  = "404"
      message_body = jsonencode({ error = "not found" })
    }
  }
}

resource "aws_lb_listener_rule" "service" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 100

  condition {
    path_pattern {
      values = var.target.public_path_patterns
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.service.arn
  }
}

# The readiness path on the health host, for Route 53's health checkers only (the cross-cloud entry point checks this
# region through it), ahead of the public rule; every other request on that host is routed like any host's. An ALB
# rule holds at most 5 condition values: host, path and method take 3, so the checkers' ranges go 2 to a rule.
resource "aws_lb_listener_rule" "readiness" {
  for_each = { for i, cidrs in local.readiness_cidr_groups : tostring(i) => cidrs }

  listener_arn = aws_lb_listener.https.arn
  priority     = local.readiness_first_priority + tonumber(each.key)

  condition {
    host_header {
      values = [var.target.readiness_host.host]
    }
  }
  condition {
    path_pattern {
      values = [var.target.health_check_path]
    }
  }
  condition {
    http_request_method {
      values = ["GET"]
    }
  }
  condition {
    source_ip {
      values = each.value
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.service.arn
  }
}

# --- WAF ---

resource "aws_wafv2_web_acl" "this" {
  name  = var.name
  scope = "REGIONAL"

  default_action {
    allow {}
  }

  # Runs first (priority 0) so floods are dropped before the managed rule groups are evaluated.
  rule {
    name     = "rate-limit-per-ip"
    priority = 0
    action {
      block {}
    }
    statement {
      rate_based_statement {
        limit              = var.waf.rate_limit
        aggregate_key_type = "IP"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-rate-limit"
      sampled_requests_enabled   = true
    }
  }

  # Known botnet and scanner addresses.
  rule {
    name     = "AWSManagedRulesAmazonIpReputationList"
    priority = 1
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesAmazonIpReputationList"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-AWSManagedRulesAmazonIpReputationList"
      sampled_requests_enabled   = true
    }
  }

  # OWASP-style generic protections (bad bodies, XSS, path traversal).
  rule {
    name     = "AWSManagedRulesCommonRuleSet"
    priority = 2
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesCommonRuleSet"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-AWSManagedRulesCommonRuleSet"
      sampled_requests_enabled   = true
    }
  }

  # Exploit payloads such as Log4Shell (CVE-2021-44228) lookups.
  rule {
    name     = "AWSManagedRulesKnownBadInputsRuleSet"
    priority = 3
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-AWSManagedRulesKnownBadInputsRuleSet"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = var.name
    sampled_requests_enabled   = true
  }
}

resource "aws_wafv2_web_acl_association" "alb" {
  resource_arn = aws_lb.this.arn
  web_acl_arn  = aws_wafv2_web_acl.this.arn
}

resource "aws_cloudwatch_log_group" "waf" {
  # WAF only logs to groups whose name starts with aws-waf-logs-.
  name              = "aws-waf-logs-${var.name}"
  retention_in_days = var.waf.log_retention_days
  kms_key_id        = var.waf.log_kms_key_arn
  #checkov:skip=CKV_AWS_338:WAF logs serve incident analysis; 30 days covers it at a fraction of a year's cost.
}

resource "aws_wafv2_web_acl_logging_configuration" "this" {
  resource_arn            = aws_wafv2_web_acl.this.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf.arn]
}

# The WAF resources had a count while a variable could switch them off; the addresses they had then.
moved {
  from = aws_wafv2_web_acl.this[0]
  to   = aws_wafv2_web_acl.this
}

moved {
  from = aws_wafv2_web_acl_association.alb[0]
  to   = aws_wafv2_web_acl_association.alb
}

moved {
  from = aws_cloudwatch_log_group.waf[0]
  to   = aws_cloudwatch_log_group.waf
}

moved {
  from = aws_wafv2_web_acl_logging_configuration.this[0]
  to   = aws_wafv2_web_acl_logging_configuration.this
}
