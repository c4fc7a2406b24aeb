# Copied next to the staging and regional roots' main.tf in the scratch copy by scripts/check/30-terraform.sh: the
# stack's emulator switches, which the roots never set (their defaults are what AWS gets).
module "stack" {
  # moto 5.2.5 has no ListTagsForResource for Application Auto Scaling; the provider retries it until it times out.
  enable_autoscaling = false
  # moto 5.2.5 has no Alertmanager definition API for Prometheus workspaces.
  enable_prometheus_alertmanager = false
}
