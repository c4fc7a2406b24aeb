# Inputs of the moto smoke run of bootstrap/ (first-deployment.sh bootstrap).
region      = "us-east-1"
bucket_name = "hello-birthday-tfstate-123456789012"
