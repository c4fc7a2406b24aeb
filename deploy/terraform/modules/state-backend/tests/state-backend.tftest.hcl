mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

variables {
  bucket_name = "hello-birthday-tfstate-123456789012"
}

run "bucket_is_private_versioned_encrypted" {
  command = plan

  assert {
    condition     = aws_s3_bucket_versioning.state.versioning_configuration[0].status == "Enabled"
    error_message = "State must be versioned."
  }
  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.state.rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms"
    error_message = "State must be encrypted with KMS."
  }
  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.state.block_public_acls, aws_s3_bucket_public_access_block.state.block_public_policy,
      aws_s3_bucket_public_access_block.state.ignore_public_acls, aws_s3_bucket_public_access_block.state.restrict_public_buckets,
    ])
    error_message = "All public access must be blocked."
  }
  assert {
    condition     = length(aws_dynamodb_table.lock) == 0
    error_message = "No lock table by default: use_lockfile locks in S3."
  }
}

run "lock_table_for_old_terraform" {
  command = plan
  variables {
    create_lock_table = true
  }
  assert {
    condition     = aws_dynamodb_table.lock[0].hash_key == "LockID"
    error_message = "The S3 backend locks on LockID."
  }
}

run "rejects_bad_bucket_name" {
  command = plan
  variables {
    bucket_name = "Hello_Birthday"
  }
  expect_failures = [var.bucket_name]
}
