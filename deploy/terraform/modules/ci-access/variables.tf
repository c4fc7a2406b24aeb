variable "name" {
  description = "Name of the deploy role, e.g. hello-birthday-staging-deploy."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.name))
    error_message = "name must be a valid IAM role name (1-64 characters)."
  }
}

variable "github_repository" {
  description = "GitHub repository allowed to assume the role, as OWNER/NAME."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like OWNER/NAME."
  }
}

variable "github_subjects" {
  description = "OIDC subject claims (after repo:OWNER/NAME:) allowed to assume the role, e.g. ref:refs/heads/main or environment:production."
  type        = list(string)

  validation {
    condition     = length(var.github_subjects) > 0 && alltrue([for s in var.github_subjects : can(regex("^(ref:refs/(heads|tags)/|environment:|pull_request$)", s)) && !strcontains(s, "*")])
    error_message = "github_subjects must be non-empty, without wildcards, each starting with ref:refs/heads/, ref:refs/tags/, environment: or be pull_request."
  }
}

variable "create_oidc_provider" {
  description = "Create the account's GitHub OIDC provider. There is one per account: set false where another stack already made it."
  type        = bool
  default     = true
}

variable "repository_arn" {
  description = "ECR repository the role may push to."
  type        = string
}

variable "cluster_arn" {
  description = "ECS cluster of the service the role may update."
  type        = string
}

variable "service_arn" {
  description = "ECS service the role may update."
  type        = string
}

variable "task_definition_family" {
  description = "Task definition family the role may register revisions in."
  type        = string
}

variable "pass_role_arns" {
  description = "The task and execution roles; the only roles the deploy role may hand to ECS."
  type        = list(string)

  validation {
    condition     = length(var.pass_role_arns) == 2
    error_message = "pass_role_arns must hold exactly the task role and the task execution role."
  }
}
