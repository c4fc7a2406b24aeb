data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

# ECR keeps one replication configuration per registry (account and region): this resource owns it. Only the
# repository's images are replicated, so other repositories of the registry (staging's) stay where they are.
# Each region's tasks then pull from their own region, and an image pull never depends on another region.
resource "aws_ecr_replication_configuration" "this" {
  replication_configuration {
    rule {
      dynamic "destination" {
        for_each = var.destination_regions
        content {
          region      = destination.value
          registry_id = data.aws_caller_identity.current.account_id
        }
      }

      repository_filter {
        filter      = var.repository_name
        filter_type = "PREFIX_MATCH"
      }
    }
  }

  lifecycle {
    precondition {
      condition     = !contains(var.destination_regions, data.aws_region.current.name)
      error_message = "destination_regions lists the repository's own region (${data.aws_region.current.name})."
    }
  }
}
