//! The physical resource ids helve chooses: the default on Create, stable for the stack and the
//! logical id, and the one it answers when a Create fails.

use crate::fnv::Fnv1a;

/// The start of the physical resource id helve answers when a Create fails.
pub const FAILED_CREATE_PREFIX: &str = "helve:create-failed:";

/// Whether `physical_resource_id` is the id helve answers when a Create fails.
pub fn is_failed_create(physical_resource_id: &str) -> bool {
    physical_resource_id.starts_with(FAILED_CREATE_PREFIX)
}

/// The longest physical resource id CloudFormation accepts, in bytes.
pub const MAX_PHYSICAL_ID_BYTES: usize = 1024;

/// The id helve answers when the Create of request `request_id` fails.
pub(super) fn failed_create_id(request_id: &str) -> String {
    format!("{FAILED_CREATE_PREFIX}{request_id}")
}

/// The stack name in a stack ARN: `arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>`.
pub(super) fn stack_name(stack_id: &str) -> &str {
    stack_id
        .split_once(":stack/")
        .and_then(|(_, rest)| rest.split('/').next())
        .filter(|name| !name.is_empty())
        .unwrap_or("stack")
}

/// `<stack name>-<logical id>-<12 hex digits of FNV-1a over the stack ARN and logical id>`.
pub(super) fn default_physical_id(stack_id: &str, logical_id: &str) -> String {
    let mut hash = Fnv1a::new();
    hash.write(stack_id.as_bytes());
    hash.write(b"/");
    hash.write(logical_id.as_bytes());
    format!(
        "{}-{}-{:012x}",
        stack_name(stack_id),
        logical_id,
        hash.finish() & 0xffff_ffff_ffff
    )
}
