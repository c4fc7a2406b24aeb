data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

# A customer managed key (rather than the AWS owned default) so that access to the data can be audited in CloudTrail
# and revoked by key policy independently of IAM.
resource "aws_kms_key" "table" {
  description             = "Encrypts the ${var.table_name} DynamoDB table"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
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
        # DynamoDB encrypts on the caller's behalf: the caller needs the key, but only through DynamoDB.
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

resource "aws_kms_alias" "table" {
  name          = "alias/${var.table_name}"
  target_key_id = aws_kms_key.table.key_id
}

resource "aws_dynamodb_table" "this" {
  name                        = var.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = var.partition_key
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = var.partition_key
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.table.arn
  }
}
