mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  github_repository = "example/hello-birthday"
  deploy = {
    role_name              = "hello-birthday-staging-deploy"
    subjects               = ["ref:refs/heads/main", "environment:staging"]
    repository_arn         = "arn:aws:ecr:eu-west-1:123456789012:repository/hello-birthday-staging"
    cluster_arn            = "arn:aws:ecs:eu-west-1:123456789012:cluster/hello-birthday-staging"
    service_arn            = "arn:aws:ecs:eu-west-1:123456789012:service/hello-birthday-staging/hello-birthday-staging"
    task_definition_family = "hello-birthday-staging"
    pass_role_arns         = ["arn:aws:iam::123456789012:role/hello-birthday-staging-task", "arn:aws:iam::123456789012:role/hello-birthday-staging-execution"]
  }
  terraform = {
    state = {
      bucket      = "hello-birthday-tfstate-123456789012"
      key         = "hello-birthday/staging/terraform.tfstate"
      kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    }
    plan_role_name  = "hello-birthday-staging-terraform-plan"
    apply_role_name = "hello-birthday-staging-terraform-apply"
    apply_subjects  = ["environment:staging-infra"]
  }
}

run "deploy_role_scope" {
  command = plan

  assert {
    condition     = jsondecode(aws_iam_role.deploy.assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"] == ["repo:example/hello-birthday:ref:refs/heads/main", "repo:example/hello-birthday:environment:staging"]
    error_message = "Only this repository's main branch and staging environment may assume the role."
  }
  assert {
    condition     = jsondecode(aws_iam_role.deploy.assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    error_message = "Tokens must be minted for STS."
  }
  assert {
    condition     = tolist([for s in jsondecode(aws_iam_role_policy.deploy.policy).Statement : s.Resource if s.Sid == "PassTaskRoles"][0]) == var.deploy.pass_role_arns
    error_message = "The role may pass the task and execution roles only."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.deploy.policy).Statement : s.Resource if s.Sid == "PushImage"][0] == var.deploy.repository_arn
    error_message = "The role may push to the stack's repository only."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.deploy.policy).Statement : s.Resource if s.Sid == "UpdateService"][0] == var.deploy.service_arn
    error_message = "The role may update the stack's service only."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.deploy.policy).Statement : s.Resource if s.Sid == "RegisterTaskDefinition"][0] == "arn:aws:ecs:eu-west-1:123456789012:task-definition/hello-birthday-staging:*"
    error_message = "The role may register revisions of the stack's family only."
  }
  assert {
    condition     = toset(flatten([for s in jsondecode(aws_iam_role_policy.deploy.policy).Statement : s.Action if s.Resource == "*"])) == toset(["ecr:GetAuthorizationToken", "ecs:DescribeTaskDefinition", "elasticloadbalancing:DescribeTargetHealth"])
    error_message = "Only actions AWS cannot scope may use Resource *."
  }
  # verify-rollout.sh reads the target group's health after every rollout; ELBv2 has no resource-level permission
  # for it, so it can only be granted on *, and only in the unscopable-reads statement.
  assert {
    condition     = length([for s in jsondecode(aws_iam_role_policy.deploy.policy).Statement : s if contains(flatten([s.Action]), "elasticloadbalancing:DescribeTargetHealth") && s.Effect == "Allow" && s.Sid == "UnscopableReads"]) == 1
    error_message = "The deploy workflow's target health check needs elasticloadbalancing:DescribeTargetHealth."
  }
  assert {
    condition     = length(jsondecode(aws_iam_role_policy.deploy.policy).Statement) == 6
    error_message = "No statements beyond push, register, update, the bake's alarm reads, pass role and the unscopable reads (no image source given)."
  }
  assert {
    condition     = !contains(flatten([for s in jsondecode(aws_iam_role_policy.deploy.policy).Statement : s.Action]), "ecr:GetDownloadUrlForLayer")
    error_message = "Without an image source the deploy role pulls nothing."
  }
}

# Production: the deploy role copies the tested image from staging's repository, read-only.
run "image_source_read_only" {
  command = plan

  variables {
    deploy = merge(var.deploy, {
      role_name                   = "hello-birthday-production-deploy"
      subjects                    = ["environment:production"]
      repository_arn              = "arn:aws:ecr:eu-west-1:123456789012:repository/hello-birthday-production"
      image_source_repository_arn = "arn:aws:ecr:eu-west-1:123456789012:repository/hello-birthday-staging"
    })
  }

  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.deploy.policy).Statement : s.Resource if s.Sid == "PullFromImageSource"] == ["arn:aws:ecr:eu-west-1:123456789012:repository/hello-birthday-staging"]
    error_message = "The source repository is read through its own statement."
  }
  assert {
    condition     = toset(flatten([for s in jsondecode(aws_iam_role_policy.deploy.policy).Statement : s.Action if s.Sid == "PullFromImageSource"])) == toset(["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:DescribeImages", "ecr:GetDownloadUrlForLayer"])
    error_message = "Only read actions on the source repository."
  }
  assert {
    condition     = alltrue([for s in jsondecode(aws_iam_role_policy.deploy.policy).Statement : !contains(flatten([s.Action]), "ecr:PutImage") || s.Resource == "arn:aws:ecr:eu-west-1:123456789012:repository/hello-birthday-production"])
    error_message = "The role writes to its own repository only."
  }
  assert {
    condition     = jsondecode(aws_iam_role.deploy.assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"] == ["repo:example/hello-birthday:environment:production"]
    error_message = "Production's deploy role is assumed from the approved production environment only."
  }
}

run "terraform_roles" {
  command = plan

  assert {
    condition     = jsondecode(aws_iam_role.terraform_plan.assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"] == ["repo:example/hello-birthday:pull_request"]
    error_message = "The plan role is for pull requests."
  }
  assert {
    condition     = jsondecode(aws_iam_role.terraform_apply.assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"] == ["repo:example/hello-birthday:environment:staging-infra"]
    error_message = "The apply role is assumed from the approval-gated staging-infra environment only."
  }
  assert {
    condition     = aws_iam_role_policy_attachment.terraform_plan_read_only.policy_arn == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    error_message = "The plan role reads; it does not write."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.terraform_plan.policy).Statement : s.Resource if s.Sid == "ReadState"] == ["arn:aws:s3:::hello-birthday-tfstate-123456789012/hello-birthday/staging/terraform.tfstate"]
    error_message = "The plan role reads this environment's state object."
  }
  assert {
    condition     = alltrue([for s in jsondecode(aws_iam_role_policy.terraform_plan.policy).Statement : s.Effect == "Deny" || alltrue([for a in flatten([s.Action]) : contains(["s3:GetObject", "s3:ListBucket", "kms:Decrypt"], a)])])
    error_message = "The plan role's own allowances are state reads only."
  }
  assert {
    condition     = length([for s in jsondecode(aws_iam_role_policy.terraform_plan.policy).Statement : s if s.Effect == "Deny" && contains(flatten([s.Action]), "dynamodb:Scan") && contains(flatten([s.Action]), "logs:GetLogEvents")]) == 1
    error_message = "The plan role may not read users or logs."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.terraform_apply.policy).Statement : s.Condition.StringEqualsIfExists["aws:ResourceAccount"] if s.Effect == "Allow"] == ["123456789012"]
    error_message = "The apply role acts in this account only."
  }
  assert {
    condition     = length([for s in jsondecode(aws_iam_role_policy.terraform_apply.policy).Statement : s if s.Effect == "Deny" && contains(flatten([s.Action]), "iam:CreateAccessKey")]) == 1
    error_message = "The apply role cannot mint long-lived credentials."
  }
}

run "rejects_branch_as_apply_subject" {
  command = plan
  variables {
    terraform = merge(var.terraform, { apply_subjects = ["ref:refs/heads/main"] })
  }
  expect_failures = [var.terraform]
}

run "rejects_image_source_that_is_not_a_repository" {
  command = plan
  variables {
    deploy = merge(var.deploy, { image_source_repository_arn = "arn:aws:s3:::hello-birthday-staging" })
  }
  expect_failures = [var.deploy]
}

run "rejects_wildcard_subject" {
  command = plan
  variables {
    deploy = merge(var.deploy, { subjects = ["ref:refs/heads/*"] })
  }
  expect_failures = [var.deploy]
}

run "rejects_bad_repository" {
  command = plan
  variables {
    github_repository = "hello-birthday"
  }
  expect_failures = [var.github_repository]
}
