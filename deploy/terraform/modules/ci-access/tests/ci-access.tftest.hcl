mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  name                   = "hello-birthday-staging-deploy"
  github_repository      = "example/hello-birthday"
  github_subjects        = ["ref:refs/heads/main", "environment:staging"]
  repository_arn         = "arn:aws:ecr:eu-west-1:123456789012:repository/hello-birthday-staging"
  cluster_arn            = "arn:aws:ecs:eu-west-1:123456789012:cluster/hello-birthday-staging"
  service_arn            = "arn:aws:ecs:eu-west-1:123456789012:service/hello-birthday-staging/hello-birthday-staging"
  task_definition_family = "hello-birthday-staging"
  pass_role_arns         = ["arn:aws:iam::123456789012:role/hello-birthday-staging-task", "arn:aws:iam::123456789012:role/hello-birthday-staging-execution"]
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
    condition     = tolist([for s in jsondecode(aws_iam_role_policy.deploy.policy).Statement : s.Resource if s.Sid == "PassTaskRoles"][0]) == var.pass_role_arns
    error_message = "The role may pass the task and execution roles only."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.deploy.policy).Statement : s.Resource if s.Sid == "PushImage"][0] == var.repository_arn
    error_message = "The role may push to the stack's repository only."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.deploy.policy).Statement : s.Resource if s.Sid == "UpdateService"][0] == var.service_arn
    error_message = "The role may update the stack's service only."
  }
  assert {
    condition     = [for s in jsondecode(aws_iam_role_policy.deploy.policy).Statement : s.Resource if s.Sid == "RegisterTaskDefinition"][0] == "arn:aws:ecs:eu-west-1:123456789012:task-definition/hello-birthday-staging:*"
    error_message = "The role may register revisions of the stack's family only."
  }
  assert {
    condition     = toset(flatten([for s in jsondecode(aws_iam_role_policy.deploy.policy).Statement : s.Action if s.Resource == "*"])) == toset(["ecr:GetAuthorizationToken", "ecs:DescribeTaskDefinition"])
    error_message = "Only actions AWS cannot scope may use Resource *."
  }
  assert {
    condition     = length(jsondecode(aws_iam_role_policy.deploy.policy).Statement) == 5
    error_message = "No statements beyond push, register, update, pass role and the unscopable reads."
  }
}

run "rejects_wildcard_subject" {
  command = plan
  variables {
    github_subjects = ["ref:refs/heads/*"]
  }
  expect_failures = [var.github_subjects]
}

run "rejects_bad_repository" {
  command = plan
  variables {
    github_repository = "hello-birthday"
  }
  expect_failures = [var.github_repository]
}
