//! A plain event that derives `validator::Validate` is validated before the handler runs, and
//! the error names each failing field by the key the event has (serde's name), as the HTTP 422
//! and the batch records do.

use helve::testing::invoke;
use serde::Deserialize;
use serde_json::json;
use validator::Validate;

#[derive(Debug, Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
struct SignUp {
    #[validate(length(min = 1, max = 40))]
    display_name: String,
    #[validate(nested)]
    home_address: Address,
}

#[derive(Debug, Deserialize, Validate)]
struct Address {
    #[serde(rename = "postCode")]
    #[validate(length(min = 4))]
    post_code: String,
}

#[helve::handler(service = "accounts")]
async fn sign_up(event: SignUp) -> Result<String, helve::Error> {
    Ok(format!("welcome, {}", event.display_name))
}

#[tokio::test]
async fn a_plain_event_that_does_not_validate_names_its_fields_as_the_event_has_them() {
    let outcome = invoke(
        helve_function!(),
        json!({"displayName": "", "homeAddress": {"postCode": "1"}}),
    )
    .await;
    let diagnostic = outcome.assert_error("helve.ValidationFailed");
    assert_eq!(
        diagnostic.error_message,
        "the event does not validate: displayName: must be 1 to 40 characters (length); \
         homeAddress.postCode: must be at least 4 characters (length); the handler was not called"
    );
    let line = outcome
        .logs()
        .with("error_type", "helve.ValidationFailed")
        .assert_one();
    assert_eq!(line.message(), diagnostic.error_message);
}

#[tokio::test]
async fn a_plain_event_that_validates_reaches_the_handler() {
    let outcome = invoke(
        helve_function!(),
        json!({"displayName": "Ada", "homeAddress": {"postCode": "1010"}}),
    )
    .await;
    assert_eq!(outcome.assert_response(), &json!("welcome, Ada"));
}
