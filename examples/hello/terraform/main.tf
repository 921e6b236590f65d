# examples/hello deployed with Terraform (or OpenTofu) through helve's module, instead of SAM.
#
# From the repository root:
#   cargo lambda build --release --arm64 --output-format zip -p example-hello
#   cd examples/hello/terraform && terraform init && terraform apply
#
# Once copied out of the helve repository, set the module's `source` to where you keep
# deploy/terraform (a git URL with `?ref=`, or a path) and `filename` to your crate's zip.

terraform {
  required_version = ">= 1.2"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.32"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  description = "The AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "greeting" {
  description = "GREETING: the word the function greets with. Empty stops the function at init (hello.Config)."
  type        = string
  default     = "Hello"
}

variable "alarm_actions" {
  description = "ARNs (an SNS topic, say) told when the Errors or ColdStart alarm fires."
  type        = list(string)
  default     = []
}

module "hello" {
  source = "../../../deploy/terraform"

  function_name = "helve-hello"
  description   = "Greets by name (helve example)"
  # `cargo lambda build --output-format zip` writes target/lambda/<binary>/bootstrap.zip.
  filename = "${path.module}/../../../target/lambda/example-hello/bootstrap.zip"

  memory_size = 128
  timeout     = 3

  # The handler says `service = "hello", namespace = "Hello"`, which win over these variables:
  # they are given the same values so the ColdStart alarm watches the dimensions helve writes.
  service_name      = "hello"
  metrics_namespace = "Hello"

  environment = {
    GREETING       = var.greeting
    RUST_BACKTRACE = "1"
  }

  log_retention_in_days = 14
  tracing               = true
  alarm_actions         = var.alarm_actions
}

output "function_name" {
  description = "Invoke it: aws lambda invoke --function-name <name> --cli-binary-format raw-in-base64-out --payload '{\"name\":\"Ada\"}' out.json"
  value       = module.hello.function_name
}

output "log_group_name" {
  description = "Where its log lines and EMF documents go."
  value       = module.hello.log_group_name
}

output "errors_alarm_arn" {
  value = module.hello.errors_alarm_arn
}

output "cold_start_alarm_arn" {
  value = module.hello.cold_start_alarm_arn
}
