# Inputs of the moto smoke run of the global root (regions come from first-deployment.sh, out of the smoke copy's
# regions.json). The regional states are read locally (global_moto_override.tf.tpl), so the bucket is not used.
github_repository = "example/hello-birthday"
alarms            = { emails = ["oncall@example.com"] }
regional_state    = { bucket = "hello-birthday-tfstate-123456789012", region = "us-east-1" }
