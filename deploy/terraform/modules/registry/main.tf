resource "aws_ecr_repository" "this" {
  name = var.name
  # Deployments pin digests, but immutable tags also keep a commit-<SHA> tag from ever pointing at a different build.
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
  }
}

# Counts builds, not manifests. One build stores several manifests: per platform an image, its attestation and the
# per-platform index buildx pushes by digest, then the commit's index (the only tagged one, commit-<SHA>) and GitHub's
# provenance referrer. Rule 1 therefore counts tagged commit indexes alone. Rule 2 never breaks a kept build: ECR does
# not expire an image that a manifest list still references ("Lifecycle policy evaluation rules" in the ECR user
# guide), so a kept index keeps its children, and they expire only after their index did. tests/rendered/ecr_lifecycle.py
# replays this policy over months of builds and checks the count.
resource "aws_ecr_lifecycle_policy" "this" {
  repository = aws_ecr_repository.this.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Keep the ${var.keep_build_count} most recent builds (commit indexes tagged ${var.build_tag_prefix}<SHA>)"
        selection = {
          tagStatus     = "tagged"
          tagPrefixList = [var.build_tag_prefix]
          countType     = "imageCountMoreThan"
          countNumber   = var.keep_build_count
        }
        action = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Expire untagged manifests no kept build references after ${var.untagged_expiry_days} days"
        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = var.untagged_expiry_days
        }
        action = { type = "expire" }
      },
    ]
  })
}
