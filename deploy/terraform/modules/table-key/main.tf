data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

# A customer managed key (rather than the AWS owned default) so that access to the data can be audited in CloudTrail
# and revoked by key policy independently of IAM. One per region: a global table's replica is encrypted with a key of
# its own region, so losing one region (or one key) leaves the others readable.
resource "aws_kms_key" "this" {
  description             = "Encrypts the ${var.table_name} DynamoDB table in ${data.aws_region.current.name}"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_days
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministersKeyThroughIam"
      Effect    = "Allow"
      Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
      },
      {
        # DynamoDB encrypts on the caller's behalf: the caller needs the key, but only through DynamoDB here.
        Sid       = "TableUsersThroughDynamoDbOnly"
        Effect    = "Allow"
        Principal = { AWS = var.key_user_role_arns }
        Action    = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:CreateGrant"]
        Resource  = "*"
        Condition = {
          StringEquals = {
            "kms:ViaService"    = "dynamodb.${data.aws_region.current.name}.amazonaws.com"
            "kms:CallerAccount" = data.aws_caller_identity.current.account_id
          }
        }
    }]
  })
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.table_name}"
  target_key_id = aws_kms_key.this.key_id
}

# Terraform cannot destroy or replace the key while this guard exists: lifecycle.prevent_destroy takes no variable,
# and the same module serves throw-away environments (staging is destroyed on purpose), so the protection is a
# resource of its own, there only when asked for. Replacing the key is caught too (replace_triggered_by on its id),
# because a table whose key is scheduled for deletion becomes unreadable. To delete the key on purpose:
# `terraform state rm` this guard first (deploy/terraform/README.md, "Data that cannot be deleted by accident").
resource "terraform_data" "destroy_guard" {
  count = var.prevent_destroy ? 1 : 0

  input = aws_kms_key.this.arn
  lifecycle {
    prevent_destroy      = true
    replace_triggered_by = [aws_kms_key.this.id]
  }
}
