output "repository_urls" {
  description = "Image repository URL per region, the source's included: what each region's task definition pulls."
  value = {
    for region in distinct(concat([data.aws_region.current.name], var.destination_regions)) :
    region => "${data.aws_caller_identity.current.account_id}.dkr.ecr.${region}.amazonaws.com/${var.repository_name}"
  }
}
