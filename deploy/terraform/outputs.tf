output "function_name" {
  description = "The function's name."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "The function's ARN."
  value       = aws_lambda_function.this.arn
}

output "invoke_arn" {
  description = "The ARN API Gateway integrations invoke."
  value       = aws_lambda_function.this.invoke_arn
}

output "role_arn" {
  description = "The execution role's ARN (the module's, or role_arn)."
  value       = local.role_arn
}

output "role_name" {
  description = "The name of the execution role the module created, to attach more policies to; null with role_arn."
  value       = local.create_role ? aws_iam_role.this[0].name : null
}

output "log_group_name" {
  description = "The function's log group, /aws/lambda/<function_name>."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group_arn" {
  description = "The log group's ARN."
  value       = aws_cloudwatch_log_group.this.arn
}

output "errors_alarm_arn" {
  description = "The Errors alarm's ARN."
  value       = aws_cloudwatch_metric_alarm.errors.arn
}

output "cold_start_alarm_arn" {
  description = "The ColdStart rate alarm's ARN; null without metrics_namespace or with cold_start_alarm = false."
  value       = local.cold_start_alarm ? aws_cloudwatch_metric_alarm.cold_start_rate[0].arn : null
}
