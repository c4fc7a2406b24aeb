# Inputs of the moto smoke run of both environment roots (certificate_arn is added by the check script; image_digest
# and production's staging_repository_arn come from first-deployment.sh, as in a real first deployment).
region             = "us-east-1"
github_repository  = "example/hello-birthday"
alarm_emails       = ["oncall@example.com"]
enable_autoscaling = false # moto 5.2.5 has no ListTagsForResource for Application Auto Scaling
# moto 5.2.5 has no Alertmanager definition API for Prometheus workspaces.
enable_prometheus_alertmanager = false
collector_image                = "public.ecr.aws/aws-observability/aws-otel-collector@sha256:1f0ee4e3d4e9c1e7b5f1c8b1a0f0e0d0c0b0a090807060504030201000f0e0d0"
# The plan role's policy names them; nothing reads them in the emulator.
terraform_state_bucket      = "hello-birthday-tfstate-123456789012"
terraform_state_kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
