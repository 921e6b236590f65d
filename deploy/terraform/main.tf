# A helve function on AWS Lambda: provided.al2023 on arm64, its log group created first, the
# Powertools variables helve reads, optional X-Ray tracing and VPC, an execution role with
# least privilege, and alarms on Errors and on the rate of helve's ColdStart metric.

data "aws_partition" "current" {}

locals {
  create_role = var.role_arn == null
  role_arn    = local.create_role ? aws_iam_role.this[0].arn : var.role_arn
  in_vpc      = length(var.vpc_subnet_ids) > 0

  # What helve reads at start (docs/logging.md, docs/metrics.md). The caller's `environment`
  # is merged last, so a key given there wins.
  powertools_environment = merge(
    {
      POWERTOOLS_SERVICE_NAME       = var.service_name
      POWERTOOLS_LOG_LEVEL          = var.log_level
      POWERTOOLS_LOGGER_SAMPLE_RATE = tostring(var.logger_sample_rate)
      POWERTOOLS_LOGGER_LOG_EVENT   = var.log_event ? "true" : "false"
    },
    var.metrics_namespace == null ? {} : {
      POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace
    },
  )
  environment = merge(local.powertools_environment, var.environment)

  # helve writes ColdStart with the dimensions function_name and service; function_name is
  # POWERTOOLS_METRICS_FUNCTION_NAME when set, else the function's name (docs/metrics.md).
  cold_start_function_name = lookup(local.environment, "POWERTOOLS_METRICS_FUNCTION_NAME", var.function_name)
  cold_start_service       = lookup(local.environment, "POWERTOOLS_SERVICE_NAME", var.service_name)
  cold_start_alarm         = var.cold_start_alarm && var.metrics_namespace != null
}

# ----------------------------------------------------------------------------------------------
# The log group, created before the function: otherwise Lambda creates /aws/lambda/<name> on
# the first invocation, without retention, and this resource then fails with "already exists".
# ----------------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_id
  tags              = var.tags
}

# ----------------------------------------------------------------------------------------------
# The execution role (unless role_arn is given)
# ----------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  count = local.create_role ? 1 : 0

  name_prefix        = substr("${var.function_name}-", 0, 38)
  description        = "Execution role of the Lambda function ${var.function_name}"
  assume_role_policy = data.aws_iam_policy_document.assume_role.json
  tags               = var.tags
}

# Writing to its own log group only: the group exists already, so no logs:CreateLogGroup.
data "aws_iam_policy_document" "logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }
}

resource "aws_iam_role_policy" "logs" {
  count = local.create_role ? 1 : 0

  name   = "logs"
  role   = aws_iam_role.this[0].id
  policy = data.aws_iam_policy_document.logs.json
}

# X-Ray segments (Lambda's, and helve's subsegments with the `tracer` feature).
resource "aws_iam_role_policy_attachment" "xray" {
  count = local.create_role && var.tracing ? 1 : 0

  role       = aws_iam_role.this[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

# The network interfaces of a function in a VPC.
resource "aws_iam_role_policy_attachment" "vpc" {
  count = local.create_role && local.in_vpc ? 1 : 0

  role       = aws_iam_role.this[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_iam_role_policy_attachment" "additional" {
  count = local.create_role ? length(var.additional_policy_arns) : 0

  role       = aws_iam_role.this[0].name
  policy_arn = var.additional_policy_arns[count.index]
}

resource "aws_iam_role_policy" "additional" {
  count = local.create_role && var.additional_policy_json != null ? 1 : 0

  name   = "function"
  role   = aws_iam_role.this[0].id
  policy = var.additional_policy_json
}

# ----------------------------------------------------------------------------------------------
# The function
# ----------------------------------------------------------------------------------------------

resource "aws_lambda_function" "this" {
  function_name = var.function_name
  description   = var.description
  role          = local.role_arn

  # A helve binary is the custom runtime itself: cargo lambda names it `bootstrap`.
  runtime       = "provided.al2023"
  architectures = ["arm64"]
  handler       = "bootstrap"

  filename          = var.filename
  source_code_hash  = var.filename == null ? null : filebase64sha256(var.filename)
  s3_bucket         = var.filename == null ? var.s3_bucket : null
  s3_key            = var.filename == null ? var.s3_key : null
  s3_object_version = var.filename == null ? var.s3_object_version : null

  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions
  layers                         = var.layers

  environment {
    variables = local.environment
  }

  logging_config {
    log_format            = var.log_format
    log_group             = aws_cloudwatch_log_group.this.name
    application_log_level = var.log_format == "JSON" ? var.application_log_level : null
  }

  tracing_config {
    mode = var.tracing ? "Active" : "PassThrough"
  }

  dynamic "vpc_config" {
    for_each = local.in_vpc ? [1] : []

    content {
      subnet_ids         = var.vpc_subnet_ids
      security_group_ids = var.vpc_security_group_ids
    }
  }

  tags = var.tags

  # The log group first (see above), and the role's policies before the first invocation can
  # need them.
  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.logs,
    aws_iam_role_policy_attachment.xray,
    aws_iam_role_policy_attachment.vpc,
  ]

  lifecycle {
    precondition {
      condition     = var.filename != null || (var.s3_bucket != null && var.s3_key != null)
      error_message = "Give the deployment package: filename, or s3_bucket and s3_key."
    }

    precondition {
      condition     = !local.in_vpc || length(var.vpc_security_group_ids) > 0
      error_message = "A function in a VPC (vpc_subnet_ids) needs vpc_security_group_ids."
    }
  }
}

# ----------------------------------------------------------------------------------------------
# Alarms
# ----------------------------------------------------------------------------------------------

# Failed invocations: a handler error, an invalid event (helve.InvalidEvent), a panic
# (helve.Panic), an init error or a timeout. A batch answered with batchItemFailures is a
# successful invocation and does not count here.
resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name        = "${var.function_name}-errors"
  alarm_description = "The Lambda function ${var.function_name} failed invocations: see its log group ${aws_cloudwatch_log_group.this.name} (level ERROR, errorType)."

  namespace   = "AWS/Lambda"
  metric_name = "Errors"
  dimensions = {
    FunctionName = aws_lambda_function.this.function_name
  }
  statistic           = "Sum"
  period              = var.errors_alarm_period
  evaluation_periods  = var.errors_alarm_evaluation_periods
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.errors_alarm_threshold
  treat_missing_data  = "notBreaching"

  alarm_actions = var.alarm_actions
  ok_actions    = var.ok_actions
  tags          = var.tags
}

# The share of invocations that were cold starts, from helve's EMF metric ColdStart (value 1,
# dimensions function_name and service, in the function's namespace) over AWS/Lambda
# Invocations.
resource "aws_cloudwatch_metric_alarm" "cold_start_rate" {
  count = local.cold_start_alarm ? 1 : 0

  alarm_name          = "${var.function_name}-cold-start-rate"
  alarm_description   = "More than ${var.cold_start_rate_threshold}% of the invocations of ${var.function_name} were cold starts (helve's ColdStart metric in ${coalesce(var.metrics_namespace, "-")}): look at init_duration_ms in its log group, memory_size and provisioned concurrency."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.cold_start_rate_threshold
  evaluation_periods  = var.cold_start_alarm_evaluation_periods
  treat_missing_data  = "notBreaching"

  metric_query {
    id = "cold_starts"

    metric {
      namespace   = var.metrics_namespace
      metric_name = "ColdStart"
      dimensions = {
        function_name = local.cold_start_function_name
        service       = local.cold_start_service
      }
      period = var.cold_start_alarm_period
      stat   = "Sum"
    }
  }

  metric_query {
    id = "invocations"

    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Invocations"
      dimensions = {
        FunctionName = aws_lambda_function.this.function_name
      }
      period = var.cold_start_alarm_period
      stat   = "Sum"
    }
  }

  metric_query {
    id          = "cold_start_rate"
    expression  = "IF(invocations > 0, 100 * FILL(cold_starts, 0) / invocations, 0)"
    label       = "Cold starts (% of invocations)"
    return_data = true
  }

  alarm_actions = var.alarm_actions
  ok_actions    = var.ok_actions
  tags          = var.tags
}
