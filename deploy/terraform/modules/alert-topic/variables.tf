variable "name" {
  description = "Name of the topic, e.g. hello-birthday-production-entry-point-alerts."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,256}$", var.name))
    error_message = "name must be a valid SNS topic name."
  }
}

variable "emails" {
  description = "Email addresses subscribed to the topic (each must confirm within 2 days: deploy/terraform/pending-subscriptions.sh lists those still pending); at least one, so that the alarms publishing to it reach a person."
  type        = list(string)

  validation {
    condition     = length(var.emails) > 0 && alltrue([for e in var.emails : can(regex("^[^@[:space:]]+@[^@[:space:]]+\\.[^@[:space:]]+$", e))])
    error_message = "emails must name at least one email address: an alarm whose topic nobody subscribes to reaches no one."
  }
}
