terraform {
  # lifecycle preconditions need Terraform 1.2; OpenTofu reads this module too.
  required_version = ">= 1.2"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # `logging_config` on aws_lambda_function came in 5.32.0.
      version = ">= 5.32"
    }
  }
}
