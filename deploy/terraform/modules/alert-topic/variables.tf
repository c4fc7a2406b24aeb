variable "name" {
  description = "Name of the topic, e.g. hello-birthday-production-entry-point-alerts."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,256}$", var.name))
    error_message = "name must be a valid SNS topic name."
  }
}

variable "emails" {
  description = "Email addresses subscribed to the topic."
  type        = list(string)
  default     = []
}
