# ----------------------------------------------------------------------------------------------
# The function
# ----------------------------------------------------------------------------------------------

variable "function_name" {
  description = "The Lambda function's name. Its log group is /aws/lambda/<function_name>."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name must be 1 to 64 letters, digits, hyphens or underscores."
  }
}

variable "description" {
  description = "The function's description."
  type        = string
  default     = "A helve function"
}

variable "filename" {
  description = "The deployment package on this machine: the zip `cargo lambda build --release --arm64 --output-format zip` writes, target/lambda/<binary>/bootstrap.zip. Leave null to deploy from S3 (s3_bucket, s3_key)."
  type        = string
  default     = null
}

variable "s3_bucket" {
  description = "The S3 bucket of the deployment package, when filename is null."
  type        = string
  default     = null
}

variable "s3_key" {
  description = "The S3 key of the deployment package, when filename is null."
  type        = string
  default     = null
}

variable "s3_object_version" {
  description = "The S3 object version of the deployment package (optional)."
  type        = string
  default     = null
}

variable "memory_size" {
  description = "Memory in MB (128 to 10240). CPU is allotted in proportion to it."
  type        = number
  default     = 128

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be from 128 to 10240 MB."
  }
}

variable "timeout" {
  description = "Timeout in seconds (1 to 900). helve's deadline guards (custom resources, batches) work from it."
  type        = number
  default     = 3

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout must be from 1 to 900 seconds."
  }
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency; -1 (the default) reserves none."
  type        = number
  default     = -1
}

variable "layers" {
  description = "Layer ARNs (for example the AWS Parameters and Secrets Lambda Extension for arm64)."
  type        = list(string)
  default     = []
}

variable "environment" {
  description = "More environment variables for the function. They are merged over the Powertools variables this module sets, so a key given here wins."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "Tags for every resource the module creates."
  type        = map(string)
  default     = {}
}

# ----------------------------------------------------------------------------------------------
# Powertools settings helve reads (docs/logging.md, docs/metrics.md)
# ----------------------------------------------------------------------------------------------

variable "service_name" {
  description = "POWERTOOLS_SERVICE_NAME: the `service` key of every log line and the `service` dimension of every metric. A `service = \"..\"` option in #[helve::handler] wins over it: give the same name here, or the ColdStart alarm watches a dimension the function never writes."
  type        = string
}

variable "metrics_namespace" {
  description = "POWERTOOLS_METRICS_NAMESPACE: the CloudWatch namespace of the function's EMF metrics, ColdStart included. A `namespace = \"..\"` option in #[helve::handler] wins over it: give the same name here. Null: no namespace is set, helve writes no metrics, and there is no ColdStart alarm."
  type        = string
  default     = null
}

variable "log_level" {
  description = "POWERTOOLS_LOG_LEVEL (TRACE, DEBUG, INFO, WARN, ERROR, or RUST_LOG-style directives). AWS_LAMBDA_LOG_LEVEL, which Lambda sets from application_log_level with the JSON log format, and a `log_level` option in code win over it."
  type        = string
  default     = "INFO"
}

variable "logger_sample_rate" {
  description = "POWERTOOLS_LOGGER_SAMPLE_RATE: the share of invocations (0.0 to 1.0) logged at DEBUG."
  type        = number
  default     = 0

  validation {
    condition     = var.logger_sample_rate >= 0 && var.logger_sample_rate <= 1
    error_message = "logger_sample_rate must be from 0.0 to 1.0."
  }
}

variable "log_event" {
  description = "POWERTOOLS_LOGGER_LOG_EVENT: log each incoming event once, with secrets redacted."
  type        = bool
  default     = false
}

# ----------------------------------------------------------------------------------------------
# Logs
# ----------------------------------------------------------------------------------------------

variable "log_retention_in_days" {
  description = "How long the log group keeps log events."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "log_kms_key_id" {
  description = "A KMS key ARN to encrypt the log group with (its key policy must allow CloudWatch Logs). Null: CloudWatch Logs' default encryption."
  type        = string
  default     = null
}

variable "log_format" {
  description = "Lambda's log format: Text (the default; helve's lines are JSON already) or JSON (Lambda's own lines as JSON too, and application_log_level becomes AWS_LAMBDA_LOG_LEVEL, which wins over POWERTOOLS_LOG_LEVEL)."
  type        = string
  default     = "Text"

  validation {
    condition     = contains(["Text", "JSON"], var.log_format)
    error_message = "log_format must be Text or JSON."
  }
}

variable "application_log_level" {
  description = "With log_format JSON only: Lambda's application log level (TRACE, DEBUG, INFO, WARN, ERROR, FATAL), passed to the function as AWS_LAMBDA_LOG_LEVEL. Null: not set."
  type        = string
  default     = null
}

# ----------------------------------------------------------------------------------------------
# Tracing and networking
# ----------------------------------------------------------------------------------------------

variable "tracing" {
  description = "X-Ray active tracing (tracing_config mode Active, and the role may write to X-Ray). helve's own subsegments need its `tracer` feature; without it X-Ray still shows Lambda's segments."
  type        = bool
  default     = true
}

variable "vpc_subnet_ids" {
  description = "Subnets to run the function in (private ones, with a NAT gateway or VPC endpoints for the AWS APIs it calls). Empty: no VPC."
  type        = list(string)
  default     = []
}

variable "vpc_security_group_ids" {
  description = "Security groups of the function's network interfaces, with vpc_subnet_ids."
  type        = list(string)
  default     = []
}

# ----------------------------------------------------------------------------------------------
# The execution role
# ----------------------------------------------------------------------------------------------

variable "role_arn" {
  description = "An execution role of your own. Null (the default): the module creates one with what the function needs (its log group; X-Ray when tracing; ENIs in a VPC) plus additional_policy_arns and additional_policy_json."
  type        = string
  default     = null
}

variable "additional_policy_arns" {
  description = "Managed policy ARNs to attach to the role the module creates (for the AWS resources the handler uses)."
  type        = list(string)
  default     = []
}

variable "additional_policy_json" {
  description = "An inline policy document (JSON) added to the role the module creates, for example from an aws_iam_policy_document data source. Null: none."
  type        = string
  default     = null
}

# ----------------------------------------------------------------------------------------------
# Alarms
# ----------------------------------------------------------------------------------------------

variable "alarm_actions" {
  description = "ARNs notified when an alarm fires (an SNS topic, for example)."
  type        = list(string)
  default     = []
}

variable "ok_actions" {
  description = "ARNs notified when an alarm returns to OK."
  type        = list(string)
  default     = []
}

variable "errors_alarm_threshold" {
  description = "The Errors alarm fires when the function's Errors (failed invocations, init errors and timeouts included) reach this many in one period."
  type        = number
  default     = 1
}

variable "errors_alarm_period" {
  description = "The Errors alarm's period in seconds."
  type        = number
  default     = 300
}

variable "errors_alarm_evaluation_periods" {
  description = "How many periods in a row breach before the Errors alarm fires."
  type        = number
  default     = 1
}

variable "cold_start_alarm" {
  description = "Whether to create the ColdStart rate alarm (only with metrics_namespace: the ColdStart metric is helve's EMF metric)."
  type        = bool
  default     = true
}

variable "cold_start_rate_threshold" {
  description = "The ColdStart alarm fires when cold starts are more than this percentage of invocations in a period."
  type        = number
  default     = 25
}

variable "cold_start_alarm_period" {
  description = "The ColdStart alarm's period in seconds."
  type        = number
  default     = 3600
}

variable "cold_start_alarm_evaluation_periods" {
  description = "How many periods in a row breach before the ColdStart alarm fires."
  type        = number
  default     = 1
}
