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

variable "repository_arn" {
  description = "ECR repository the role may push to (and read back)."
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

variable "image_source_repository_arn" {
  description = "ECR repository the deploy role may read to copy the image it deploys into its own repository (production: staging's). null where the image workflow pushes directly."
  type        = string
  default     = null

  validation {
    condition     = var.image_source_repository_arn == null || can(regex("^arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/[a-z0-9._/-]+$", var.image_source_repository_arn))
    error_message = "image_source_repository_arn must be null or an ECR repository ARN."
  }
}

variable "terraform_state" {
  description = "Remote state of this environment (bootstrap outputs bucket_name and kms_key_arn, and the state key): what the plan role may read."
  type = object({
    bucket      = string
    key         = string
    kms_key_arn = string
  })

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.terraform_state.bucket)) && can(regex("^arn:aws[a-z-]*:kms:", var.terraform_state.kms_key_arn)) && length(var.terraform_state.key) > 0
    error_message = "terraform_state needs an S3 bucket name, a non-empty key and a KMS key ARN."
  }
}

variable "terraform_plan_role_name" {
  description = "Name of the read-only role infra.yml assumes to plan."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.terraform_plan_role_name))
    error_message = "terraform_plan_role_name must be a valid IAM role name (1-64 characters)."
  }
}

variable "terraform_plan_subjects" {
  description = "OIDC subject claims allowed to assume the plan role (infra.yml plans on pull requests)."
  type        = list(string)
  default     = ["pull_request"]

  validation {
    condition     = length(var.terraform_plan_subjects) > 0 && alltrue([for s in var.terraform_plan_subjects : can(regex("^(ref:refs/(heads|tags)/|environment:|pull_request$)", s)) && !strcontains(s, "*")])
    error_message = "terraform_plan_subjects must be non-empty, without wildcards, each starting with ref:refs/heads/, ref:refs/tags/, environment: or be pull_request."
  }
}

variable "terraform_apply_role_name" {
  description = "Name of the role infra.yml assumes to apply."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.terraform_apply_role_name))
    error_message = "terraform_apply_role_name must be a valid IAM role name (1-64 characters)."
  }
}

variable "terraform_apply_subjects" {
  description = "OIDC subject claims allowed to assume the apply role: GitHub environments with required reviewers only, e.g. environment:staging-infra."
  type        = list(string)

  validation {
    condition     = length(var.terraform_apply_subjects) > 0 && alltrue([for s in var.terraform_apply_subjects : can(regex("^environment:[A-Za-z0-9_.-]+-infra$", s))])
    error_message = "terraform_apply_subjects must be non-empty and each an environment:NAME-infra subject (an approval-gated GitHub environment, never a branch)."
  }
}
