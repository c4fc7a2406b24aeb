# Inputs of the moto smoke run of staging and of production's regional root (certificate_arn is added by the check
# script; image_digest, and for production region, vpc_cidr and staging_repository_arn come from
# first-deployment.sh, as in a real first deployment). What the emulator leaves out is in the *_override.tf.tpl files.
region       = "us-east-1"
alarm_emails = ["oncall@example.com"]
ci = {
  github_repository = "example/hello-birthday"
  # The plan role's policy names them; nothing reads them in the emulator.
  terraform_state = {
    bucket      = "hello-birthday-tfstate-123456789012"
    kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
  }
}
