variable "repository_name" {
  description = "ECR repository (in the provider's region) whose images every other region pulls locally."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.repository_name))
    error_message = "repository_name must be a valid ECR repository name."
  }
}

variable "destination_regions" {
  description = "Regions that run the service besides the repository's own; each gets a replica of every image pushed."
  type        = list(string)

  validation {
    condition     = length(var.destination_regions) >= 1 && length(var.destination_regions) <= 25
    error_message = "destination_regions must list between 1 and 25 regions (a replication rule allows 25 destinations)."
  }
  validation {
    condition     = alltrue([for region in var.destination_regions : can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", region))])
    error_message = "destination_regions must be AWS region names such as eu-central-1."
  }
  validation {
    condition     = length(distinct(var.destination_regions)) == length(var.destination_regions)
    error_message = "destination_regions must not repeat a region."
  }
}
