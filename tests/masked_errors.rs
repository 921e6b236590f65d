//! A secret masked in the logs (`helve::logging::mask_value`, which the parameters client calls
//! for every secret it reads) is masked wherever else helve sends an error's text: the
//! `errorMessage` of a failed invocation, a custom resource's `Reason`, an HTTP problem's
//! `detail`.

use helve::{
    Context, Function,
    cfn::{CustomResource, Outcome as Answer, custom_resource},
    http::{Json, Path},
    testing::{TestFunction, fixtures},
};
use serde_json::{Value, json};

/// The database password of these tests: each test masks it before it runs.
const PASSWORD: &str = "hunter2-db-password";

fn mask() {
    helve::logging::mask_value(PASSWORD);
}

async fn connect(_event: Value, _ctx: Context) -> Result<Value, helve::Error> {
    Err(helve::Error::new(
        "db.ConnectFailed",
        format!("cannot connect to postgres://app:{PASSWORD}@db:5432"),
    ))
}

#[tokio::test]
async fn a_failed_invocation_s_error_message_masks_the_secret() {
    mask();
    let outcome = helve::testing::invoke(Function::new(connect), json!({})).await;
    let diagnostic = outcome.assert_error("db.ConnectFailed");
    assert_eq!(
        diagnostic.error_message,
        "cannot connect to postgres://app:[REDACTED]@db:5432"
    );
    assert!(
        !outcome
            .log_lines()
            .iter()
            .any(|line| line.raw.contains(PASSWORD))
    );
}

async fn migrate(resource: CustomResource<Value>, _ctx: Context) -> Result<Answer, helve::Error> {
    if resource.properties()["Panic"] == true {
        panic!("the migration lost its connection to postgres://app:{PASSWORD}@db");
    }
    Err(helve::Error::new(
        "db.MigrationFailed",
        format!("password {PASSWORD} refused"),
    ))
}

#[tokio::test]
async fn a_custom_resource_s_reason_masks_the_secret_of_an_error_and_of_a_panic() {
    mask();
    let mut function = TestFunction::start(Function::new(custom_resource(migrate)))
        .await
        .unwrap_or_else(|failure| panic!("init failed: {failure:?}"));
    for properties in [json!({}), json!({ "Panic": true })] {
        let outcome = function
            .invoke(fixtures::custom_resource_create().properties(properties))
            .await;
        let answer = outcome.assert_custom_resource_response();
        assert_eq!(answer["Status"], "FAILED");
        let reason = answer["Reason"].as_str().unwrap_or_default();
        assert!(reason.contains("[REDACTED]"), "{reason}");
        assert!(!reason.contains(PASSWORD), "{reason}");
    }
}

#[derive(Debug, thiserror::Error, helve::ErrorStatus)]
enum LoginError {
    #[error("the password {0} is not the account's")]
    #[status(401, code = "wrong_password")]
    Wrong(String),
}

#[helve::handler(service = "login")]
async fn login(Path(password): Path<String>) -> Result<Json<Value>, LoginError> {
    Err(LoginError::Wrong(password))
}

#[tokio::test]
async fn an_http_problem_s_detail_masks_the_secret() {
    mask();
    let outcome = helve::testing::invoke(
        helve_function!(),
        fixtures::api_gateway_http()
            .path("/login")
            .path_parameter("password", PASSWORD),
    )
    .await;
    let problem = outcome.http().json();
    assert_eq!(problem["status"], 401);
    assert_eq!(
        problem["detail"],
        "the password [REDACTED] is not the account's"
    );
}
