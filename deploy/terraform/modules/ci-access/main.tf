data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  oidc_host         = "token.actions.githubusercontent.com"
  oidc_provider_arn = data.aws_iam_openid_connect_provider.github.arn
  task_definitions  = "arn:${data.aws_partition.current.partition}:ecs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:task-definition/${var.deploy.task_definition_family}:*"
  state_bucket_arn  = "arn:${data.aws_partition.current.partition}:s3:::${var.terraform.state.bucket}"

  # Every role here is assumed the same way; only the subjects differ.
  trust = { for role, subjects in {
    deploy = var.deploy.subjects
    plan   = var.terraform.plan_subjects
    apply  = var.terraform.apply_subjects
    } : role => jsonencode({
      Version = "2012-10-17"
      Statement = [{
        Effect    = "Allow"
        Principal = { Federated = local.oidc_provider_arn }
        Action    = "sts:AssumeRoleWithWebIdentity"
        Condition = {
          StringEquals = {
            "${local.oidc_host}:aud" = "sts.amazonaws.com"
            "${local.oidc_host}:sub" = [for s in subjects : "repo:${var.github_repository}:${s}"]
          }
        }
      }]
  }) }
}

# The account's GitHub OIDC provider belongs to the bootstrap root (one per account, shared by every environment). A
# plan in an account that was not bootstrapped fails here, before any role trusts a provider that does not exist.
data "aws_iam_openid_connect_provider" "github" {
  url = "https://${local.oidc_host}"
}

# Accounts set up before the provider moved to bootstrap have it in staging's state: forget it there without
# deleting it (docs/operations/deployments.md#moving-the-oidc-provider-to-bootstrap imports it into bootstrap first).
removed {
  from = aws_iam_openid_connect_provider.github

  lifecycle {
    destroy = false
  }
}

resource "aws_iam_role" "deploy" {
  #parliament:skip=UNKNOWN_FEDERATION_SOURCE:GitHub's OIDC provider (token.actions.githubusercontent.com) is not in parliament's list of known identity providers; the trust is pinned by audience and subject below.
  name                 = var.deploy.role_name
  description          = "Assumed by GitHub Actions of ${var.github_repository} to push images and roll out the service"
  max_session_duration = 3600
  assume_role_policy   = local.trust.deploy
}

resource "aws_iam_role_policy" "deploy" {
  name = "push-image-deploy-service"
  role = aws_iam_role.deploy.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([
      {
        # AWS supports no resource-level permission for these (Service Authorization Reference: empty resource
        # type column): registry login, reading task definitions (to render the next one) and the target health
        # the deploy workflow checks after a rollout (.github/scripts/verify-rollout.sh).
        Sid      = "UnscopableReads"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken", "ecs:DescribeTaskDefinition", "elasticloadbalancing:DescribeTargetHealth"]
        Resource = "*"
      },
      {
        Sid    = "PushImage"
        Effect = "Allow"
        Action = [
          "ecr:BatchCheckLayerAvailability",
          "ecr:BatchGetImage",
          "ecr:CompleteLayerUpload",
          "ecr:DescribeImages",
          "ecr:InitiateLayerUpload",
          "ecr:PutImage",
          "ecr:UploadLayerPart",
        ]
        Resource = var.deploy.repository_arn
      },
      {
        Sid      = "RegisterTaskDefinition"
        Effect   = "Allow"
        Action   = ["ecs:RegisterTaskDefinition", "ecs:TagResource"]
        Resource = local.task_definitions
      },
      {
        Sid      = "UpdateService"
        Effect   = "Allow"
        Action   = ["ecs:UpdateService", "ecs:DescribeServices"]
        Resource = var.deploy.service_arn
        Condition = {
          ArnEquals = { "ecs:cluster" = var.deploy.cluster_arn }
        }
      },
      {
        # The bake after each rollout (.github/scripts/bake.sh) stops the rollout on any alarm of this region.
        Sid      = "ReadAlarmsForTheBake"
        Effect   = "Allow"
        Action   = "cloudwatch:DescribeAlarms"
        Resource = "arn:${data.aws_partition.current.partition}:cloudwatch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:alarm:*"
      },
      {
        Sid      = "PassTaskRoles"
        Effect   = "Allow"
        Action   = "iam:PassRole"
        Resource = var.deploy.pass_role_arns
        Condition = {
          StringEquals = { "iam:PassedToService" = "ecs-tasks.amazonaws.com" }
        }
      },
      # One more statement where the environment promotes images from another repository, none otherwise.
      ], [for source in compact([var.deploy.image_source_repository_arn]) : {
        # Promotion: the deploy job copies the image it is about to roll out, by digest, from the repository that
        # was tested (staging's) into this one. Read-only, that one repository; DescribeImages finds the
        # commit-SHA tag to give the copy, so the lifecycle policy does not expire it as untagged.
        Sid    = "PullFromImageSource"
        Effect = "Allow"
        Action = [
          "ecr:BatchCheckLayerAvailability",
          "ecr:BatchGetImage",
          "ecr:DescribeImages",
          "ecr:GetDownloadUrlForLayer",
        ]
        Resource = source
    }])
  })
}

# Terraform's own roles, for .github/workflows/infra.yml. They are not the deploy role: the plan role reads, the apply
# role changes the infrastructure, and neither is reachable from the deploy jobs' subjects.

resource "aws_iam_role" "terraform_plan" {
  #parliament:skip=UNKNOWN_FEDERATION_SOURCE:GitHub's OIDC provider (token.actions.githubusercontent.com) is not in parliament's list of known identity providers; the trust is pinned by audience and subject below.
  name                 = var.terraform.plan_role_name
  description          = "Assumed by GitHub Actions of ${var.github_repository} to plan Terraform (read-only)"
  max_session_duration = 3600
  assume_role_policy   = local.trust.plan
}

# Refreshing every resource type of the stack needs the Describe/Get/List breadth of this AWS managed policy; the
# inline policy below takes back the reads of data (users, logs) that a plan never needs.
resource "aws_iam_role_policy_attachment" "terraform_plan_read_only" {
  role       = aws_iam_role.terraform_plan.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/ReadOnlyAccess"
}

resource "aws_iam_role_policy" "terraform_plan" {
  name = "read-state-not-data"
  role = aws_iam_role.terraform_plan.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadState"
        Effect   = "Allow"
        Action   = "s3:GetObject"
        Resource = "${local.state_bucket_arn}/${var.terraform.state.key}"
      },
      {
        Sid      = "ListState"
        Effect   = "Allow"
        Action   = "s3:ListBucket"
        Resource = local.state_bucket_arn
      },
      {
        Sid      = "DecryptState"
        Effect   = "Allow"
        Action   = "kms:Decrypt"
        Resource = var.terraform.state.kms_key_arn
      },
      {
        # Plans run for pull requests: whatever a branch's workflow does with this role, it cannot read the
        # personal data in the table, the logs, or any object but the state.
        Sid    = "NoDataReads"
        Effect = "Deny"
        Action = [
          "dynamodb:BatchGetItem",
          "dynamodb:GetItem",
          "dynamodb:GetRecords",
          "dynamodb:PartiQLSelect",
          "dynamodb:Query",
          "dynamodb:Scan",
          "logs:FilterLogEvents",
          "logs:GetLogEvents",
          "logs:GetLogRecord",
          "logs:StartLiveTail",
          "logs:StartQuery",
          "ssm:GetParameter",
          "ssm:GetParameters",
          "ssm:GetParametersByPath",
        ]
        Resource = "*"
      },
      {
        Sid         = "NoObjectReadsButState"
        Effect      = "Deny"
        Action      = "s3:GetObject"
        NotResource = "${local.state_bucket_arn}/${var.terraform.state.key}"
      },
    ]
  })
}

resource "aws_iam_role" "terraform_apply" {
  #parliament:skip=UNKNOWN_FEDERATION_SOURCE:GitHub's OIDC provider (token.actions.githubusercontent.com) is not in parliament's list of known identity providers; the trust is pinned by audience and subject below.
  name                 = var.terraform.apply_role_name
  description          = "Assumed by GitHub Actions of ${var.github_repository} in the approved *-infra environment to apply Terraform"
  max_session_duration = 3600
  assume_role_policy   = local.trust.apply
}

resource "aws_iam_role_policy" "terraform_apply" {
  #checkov:skip=CKV_AWS_62:Applying this stack creates IAM roles, KMS keys and policies of every service it uses; only an approved *-infra environment job can assume it.
  #checkov:skip=CKV_AWS_63:Same reason: the action list is every action Terraform may need, limited to this account's resources by condition.
  #checkov:skip=CKV_AWS_286:Privilege escalation is inherent to a role that manages IAM; the trust (approved *-infra environments only) is the control.
  #checkov:skip=CKV_AWS_287:Credentials exposure: same reason, and creating users or access keys is denied below.
  #checkov:skip=CKV_AWS_288:Data exfiltration: the role manages the data stores, so it can read them; guarded by the environment approval.
  #checkov:skip=CKV_AWS_289:Permissions management is what applying IAM resources is; guarded by the environment approval.
  #checkov:skip=CKV_AWS_290:Write access is what applying is; limited to this account by the aws:ResourceAccount condition.
  #checkov:skip=CKV_AWS_355:Terraform needs Describe/List actions that AWS cannot scope, next to everything it creates.
  #checkov:skip=CKV2_AWS_40:The stack's roles and policies are Terraform-managed, so applying needs IAM writes; users and access keys are denied below.
  name = "apply-this-account"
  role = aws_iam_role.terraform_apply.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # IfExists: actions without a resource (Describe*, List*) carry no aws:ResourceAccount and stay allowed.
        Sid      = "ThisAccountOnly"
        Effect   = "Allow"
        Action   = "*"
        Resource = "*"
        Condition = {
          StringEqualsIfExists = { "aws:ResourceAccount" = data.aws_caller_identity.current.account_id }
        }
      },
      {
        # Every credential in this project is a short OIDC session; the pipeline never needs a long-lived one.
        Sid      = "NoLongLivedCredentials"
        Effect   = "Deny"
        Action   = ["iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:CreateUser"]
        Resource = "*"
      },
      {
        # The state bucket belongs to the bootstrap root; an environment's apply reads and writes state, nothing more.
        Sid    = "StateBucketIsNotOurs"
        Effect = "Deny"
        Action = [
          "s3:DeleteBucket",
          "s3:DeleteBucketPolicy",
          "s3:PutBucketPolicy",
          "s3:PutBucketPublicAccessBlock",
          "s3:PutBucketVersioning",
          "s3:PutEncryptionConfiguration",
          "s3:PutLifecycleConfiguration",
        ]
        Resource = local.state_bucket_arn
      },
    ]
  })
}
