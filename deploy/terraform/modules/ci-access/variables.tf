variable "github_repository" {
  description = "GitHub repository whose Actions may assume the roles, as OWNER/NAME."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like OWNER/NAME."
  }
}

variable "deploy" {
  description = <<-EOT
    The deploy role the image and deploy workflows assume. role_name, e.g. hello-birthday-staging-deploy. subjects:
    OIDC subject claims (after repo:OWNER/NAME:) allowed to assume it, e.g. ref:refs/heads/main or
    environment:production. What it may touch: repository_arn, the ECR repository it pushes to (and reads back);
    image_source_repository_arn, a repository it may read to copy the image it deploys into its own (production:
    staging's; null where the image workflow pushes directly); cluster_arn and service_arn, the ECS service it
    updates; task_definition_family, where it registers revisions; pass_role_arns, exactly the task and execution
    roles, the only roles it may hand to ECS.
  EOT
  type = object({
    role_name                   = string
    subjects                    = list(string)
    repository_arn              = string
    cluster_arn                 = string
    service_arn                 = string
    task_definition_family      = string
    pass_role_arns              = list(string)
    image_source_repository_arn = optional(string)
  })

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.deploy.role_name))
    error_message = "deploy.role_name must be a valid IAM role name (1-64 characters)."
  }
  validation {
    condition     = length(var.deploy.subjects) > 0 && alltrue([for s in var.deploy.subjects : can(regex("^(ref:refs/(heads|tags)/|environment:|pull_request$)", s)) && !strcontains(s, "*")])
    error_message = "deploy.subjects must be non-empty, without wildcards, each starting with ref:refs/heads/, ref:refs/tags/, environment: or be pull_request."
  }
  validation {
    condition     = length(var.deploy.pass_role_arns) == 2
    error_message = "deploy.pass_role_arns must hold exactly the task role and the task execution role."
  }
  validation {
    condition     = var.deploy.image_source_repository_arn == null || can(regex("^arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/[a-z0-9._/-]+$", var.deploy.image_source_repository_arn))
    error_message = "deploy.image_source_repository_arn must be null or an ECR repository ARN."
  }
}

variable "terraform" {
  description = <<-EOT
    The roles infra.yml assumes. state: this environment's remote state (bootstrap outputs bucket_name and kms_key_arn,
    and the state key), what the plan role may read. plan_role_name and plan_subjects: the read-only role that plans
    (on pull requests). apply_role_name and apply_subjects: the role that applies, from approval-gated GitHub
    environments only (environment:NAME-infra, never a branch).
  EOT
  type = object({
    state = object({
      bucket      = string
      key         = string
      kms_key_arn = string
    })
    plan_role_name  = string
    apply_role_name = string
    apply_subjects  = list(string)
    plan_subjects   = optional(list(string), ["pull_request"])
  })

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.terraform.state.bucket)) && can(regex("^arn:aws[a-z-]*:kms:", var.terraform.state.kms_key_arn)) && length(var.terraform.state.key) > 0
    error_message = "terraform.state needs an S3 bucket name, a non-empty key and a KMS key ARN."
  }
  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.terraform.plan_role_name)) && can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.terraform.apply_role_name))
    error_message = "terraform.plan_role_name and terraform.apply_role_name must be valid IAM role names (1-64 characters)."
  }
  validation {
    condition     = length(var.terraform.plan_subjects) > 0 && alltrue([for s in var.terraform.plan_subjects : can(regex("^(ref:refs/(heads|tags)/|environment:|pull_request$)", s)) && !strcontains(s, "*")])
    error_message = "terraform.plan_subjects must be non-empty, without wildcards, each starting with ref:refs/heads/, ref:refs/tags/, environment: or be pull_request."
  }
  validation {
    condition     = length(var.terraform.apply_subjects) > 0 && alltrue([for s in var.terraform.apply_subjects : can(regex("^environment:[A-Za-z0-9_.-]+-infra$", s))])
    error_message = "terraform.apply_subjects must be non-empty and each an environment:NAME-infra subject (an approval-gated GitHub environment, never a branch)."
  }
}
