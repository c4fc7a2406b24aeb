# Production only: where the images it deploys are promoted from.

variable "staging_repository_arn" {
  description = "Staging's ECR repository (output ecr_repository_arn of environments/staging): production deploys only images copied from it, by digest, after they passed staging."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/[a-z0-9._/-]+$", var.staging_repository_arn))
    error_message = "staging_repository_arn must be an ECR repository ARN."
  }
}
