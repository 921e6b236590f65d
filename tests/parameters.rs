//! `helve::parameters` against what it reads in Lambda: the Parameters and Secrets extension
//! and the AppConfig agent (fakes on 127.0.0.1 that speak their wire format), SSM and Secrets
//! Manager through the SDK (moto), and AppConfigData through the SDK (a fake of its REST API).
//! Both backends give the same values and errors; a real function reading secrets in its init
//! step never lets them into a log line, at DEBUG with event logging on.
//!
//! Needs moto (`python3 -m pip install "moto[server]"`): without it the SDK tests say they are
//! skipped, except on CI, where they fail.

mod support;

use std::{net::TcpListener, time::Duration};

use aws_sdk_secretsmanager::primitives::Blob;
use aws_sdk_ssm::types::ParameterType as SsmType;
use helve::{
    error::codes,
    parameters::{Backend, ParameterError, Parameters, Secret},
};
use serde::Deserialize;
use serde_json::{Value, json};
use support::{
    AppConfigAgent, AppConfigData, Moto, Outcome, ParameterType, ParametersExtension, Route,
    RuntimeApi, log_lines,
};

const TOKEN: &str = "session-token-of-the-function";
const API_KEY: &str = "sk-live-4f9a1c0e7b2d";
const PASSWORD: &str = "Tr0ub4dor&3-correct-horse";
const OLD_PASSWORD: &str = "0ld-pa55word-rotated";
const CERTIFICATE: &[u8] = b"\x30\x82\x01\x0a certificate bytes";

#[derive(Debug, Deserialize, PartialEq)]
struct Database {
    username: String,
    password: String,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Pool {
    host: String,
    size: u16,
}

fn database_secret(password: &str) -> String {
    json!({"username": "orders_app", "password": password}).to_string()
}

/// The values every backend is given, as SSM and Secrets Manager hold them.
fn seed_extension(extension: &ParametersExtension) {
    extension.put_parameter(
        "/orders/endpoint",
        ParameterType::String,
        "https://orders.internal",
    );
    extension.put_parameter("/orders/api-key", ParameterType::SecureString, API_KEY);
    extension.put_parameter(
        "/orders/regions",
        ParameterType::StringList,
        "eu-west-1,us-east-1",
    );
    extension.put_parameter(
        "/orders/pool",
        ParameterType::String,
        r#"{"host":"db.internal","size":8}"#,
    );
    extension.put_secret_string("orders/db", &database_secret(OLD_PASSWORD));
    extension.put_secret_string("orders/db", &database_secret(PASSWORD));
    extension.put_secret_binary("orders/certificate", CERTIFICATE);
}

/// The checks both backends must pass, with the same values and the same errors.
async fn assert_values_and_errors(parameters: &Parameters) {
    let ssm = parameters.ssm();
    assert_eq!(
        *ssm.get::<String>("/orders/endpoint").await.unwrap(),
        "https://orders.internal"
    );
    let api_key: Secret<String> = ssm.get_decrypted("/orders/api-key").await.unwrap();
    assert_eq!(api_key.expose(), API_KEY);
    assert_eq!(format!("{api_key:?}"), "[redacted]");
    let encrypted = ssm.get::<String>("/orders/api-key").await.unwrap();
    assert_ne!(*encrypted, API_KEY, "not decrypted unless asked");
    assert_eq!(
        *ssm.get::<Vec<String>>("/orders/regions").await.unwrap(),
        ["eu-west-1", "us-east-1"]
    );
    assert_eq!(
        *ssm.get::<Pool>("/orders/pool").await.unwrap(),
        Pool {
            host: "db.internal".to_owned(),
            size: 8
        }
    );
    let many = ssm
        .get_many::<String>(&["/orders/endpoint", "/orders/regions"])
        .await
        .unwrap();
    assert_eq!(
        many.keys().collect::<Vec<_>>(),
        ["/orders/endpoint", "/orders/regions"]
    );

    let secrets = parameters.secrets();
    let database = secrets.get::<Database>("orders/db").await.unwrap();
    assert_eq!(database.expose().password, PASSWORD);
    let previous = secrets
        .version_stage("AWSPREVIOUS")
        .get::<Database>("orders/db")
        .await
        .unwrap();
    assert_eq!(previous.expose().password, OLD_PASSWORD);
    let certificate = secrets.get::<Vec<u8>>("orders/certificate").await.unwrap();
    assert_eq!(certificate.expose(), CERTIFICATE);

    let missing = ssm.get::<String>("/orders/missing").await.unwrap_err();
    assert_eq!(missing.code(), codes::PARAMETER_NOT_FOUND);
    assert_eq!(
        missing.to_string(),
        "parameter `/orders/missing` was not found in SSM Parameter Store"
    );
    let missing = secrets.get::<String>("orders/missing").await.unwrap_err();
    assert_eq!(
        missing.to_string(),
        "secret `orders/missing` was not found in Secrets Manager"
    );
    let missing = ssm
        .get_many::<String>(&["/orders/endpoint", "/orders/nope"])
        .await
        .unwrap_err();
    assert_eq!(missing.name(), "/orders/nope");
    let wrong_shape = secrets.get::<Pool>("orders/db").await.unwrap_err();
    assert_eq!(wrong_shape.code(), codes::PARAMETER_TRANSFORM_FAILED);
    assert_eq!(
        wrong_shape.to_string(),
        "secret `orders/db` from Secrets Manager is not a `parameters::Pool`: at `.`: missing field `host` at line 1 column 64"
    );
    assert!(!wrong_shape.to_string().contains(PASSWORD));
}

fn through_extension(extension: &ParametersExtension) -> Parameters {
    Parameters::builder()
        .backend(Backend::Extension)
        .extension_port(extension.port())
        .session_token(TOKEN)
        .max_age(Duration::ZERO)
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_extension_backend_reads_every_kind_of_value_with_the_session_token() {
    let extension = ParametersExtension::start(TOKEN).await;
    seed_extension(&extension);
    assert_values_and_errors(&through_extension(&extension)).await;
    let requests = extension.requests();
    assert!(requests.len() > 10);
    assert!(
        requests
            .iter()
            .all(|request| request.token.as_deref() == Some(TOKEN)),
        "every request carries the session token: {requests:?}"
    );
    let decrypted = requests
        .iter()
        .find(|request| request.name.as_deref() == Some("/orders/api-key"))
        .unwrap();
    assert_eq!(decrypted.query_value("withDecryption"), Some("true"));
}

#[tokio::test]
async fn a_name_with_spaces_and_reserved_characters_reaches_the_extension_whole() {
    let extension = ParametersExtension::start(TOKEN).await;
    extension.put_parameter("/orders/a b+c&d=e?f", ParameterType::String, "odd");
    extension.put_secret_string("orders/a b+c", "odd secret");
    let parameters = through_extension(&extension);
    assert_eq!(
        *parameters
            .ssm()
            .get::<String>("/orders/a b+c&d=e?f")
            .await
            .unwrap(),
        "odd"
    );
    let secret = parameters
        .secrets()
        .get::<String>("orders/a b+c")
        .await
        .unwrap();
    assert_eq!(secret.expose(), "odd secret");
}

#[tokio::test]
async fn the_extension_refusing_the_token_or_failing_is_unavailable_not_missing() {
    let extension = ParametersExtension::start("another-token").await;
    seed_extension(&extension);
    let error = through_extension(&extension)
        .ssm()
        .get::<String>("/orders/endpoint")
        .await
        .unwrap_err();
    assert_eq!(error.code(), codes::PARAMETERS_UNAVAILABLE);
    assert!(
        error.to_string().contains("HTTP 401") && error.to_string().contains("AWS_SESSION_TOKEN"),
        "{error}"
    );

    let extension = ParametersExtension::start(TOKEN).await;
    seed_extension(&extension);
    extension.fail_next(1);
    let parameters = through_extension(&extension);
    let error = parameters
        .secrets()
        .get::<Database>("orders/db")
        .await
        .unwrap_err();
    assert_eq!(error.code(), codes::PARAMETERS_UNAVAILABLE);
    assert!(
        error
            .to_string()
            .starts_with("secret `orders/db` could not be read from Secrets Manager: the extension answered HTTP 500"),
        "{error}"
    );
    // The failure was not cached: the next read succeeds.
    parameters
        .secrets()
        .get::<Database>("orders/db")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_missing_name_answered_404_is_not_found_too() {
    let extension = ParametersExtension::start(TOKEN).await;
    extension.set_missing_status(404);
    let error = through_extension(&extension)
        .secrets()
        .get::<String>("orders/missing")
        .await
        .unwrap_err();
    assert_eq!(error.code(), codes::PARAMETER_NOT_FOUND);
}

#[tokio::test]
async fn an_extension_still_starting_is_waited_for_and_one_that_is_absent_is_named() {
    let extension = ParametersExtension::start_after(Duration::from_millis(300), TOKEN).await;
    seed_extension(&extension);
    assert!(!extension.is_accepting());
    let endpoint = through_extension(&extension)
        .ssm()
        .get::<String>("/orders/endpoint")
        .await
        .unwrap();
    assert_eq!(*endpoint, "https://orders.internal");

    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let error = Parameters::builder()
        .backend(Backend::Extension)
        .extension_port(port)
        .build()
        .unwrap()
        .ssm()
        .get::<String>("/orders/endpoint")
        .await
        .unwrap_err();
    assert_eq!(error.code(), codes::PARAMETERS_UNAVAILABLE);
    assert_eq!(
        error.to_string(),
        format!(
            "parameter `/orders/endpoint` could not be read from SSM Parameter Store: nothing listens on 127.0.0.1:{port}: is the extension's layer on the function?"
        )
    );
}

#[tokio::test]
async fn invocations_asking_for_the_same_secret_at_once_make_one_request() {
    let extension = ParametersExtension::start(TOKEN).await;
    seed_extension(&extension);
    extension.set_delay(Duration::from_millis(200));
    let parameters = Parameters::builder()
        .backend(Backend::Extension)
        .extension_port(extension.port())
        .session_token(TOKEN)
        .build()
        .unwrap();
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let parameters = parameters.clone();
            tokio::spawn(async move { parameters.secrets().get::<Database>("orders/db").await })
        })
        .collect();
    for reader in readers {
        assert_eq!(reader.await.unwrap().unwrap().expose().password, PASSWORD);
    }
    assert_eq!(extension.count(Route::Secret, "orders/db"), 1);
    // Cached: no request at all.
    parameters
        .secrets()
        .get::<Database>("orders/db")
        .await
        .unwrap();
    assert_eq!(extension.count(Route::Secret, "orders/db"), 1);
}

#[tokio::test]
async fn the_appconfig_agent_serves_a_configuration() {
    let agent = AppConfigAgent::start().await;
    agent.put(
        "orders",
        "prod",
        "switches",
        "application/json",
        br#"{"new_checkout":true}"#,
    );
    let parameters = Parameters::builder()
        .backend(Backend::Extension)
        .appconfig_port(agent.port())
        .build()
        .unwrap();
    let switches = parameters
        .appconfig()
        .get::<Value>("orders", "prod", "switches")
        .await
        .unwrap();
    assert_eq!(*switches, json!({"new_checkout": true}));
    let error = parameters
        .appconfig()
        .get::<Value>("orders", "prod", "missing")
        .await
        .unwrap_err();
    assert_eq!(error.code(), codes::PARAMETER_NOT_FOUND);
    assert_eq!(
        error.to_string(),
        "configuration `orders/prod/missing` was not found in AppConfig"
    );
}

/// A client of `$sdk` for a local endpoint, with test credentials.
macro_rules! sdk_client {
    ($sdk:ident, $endpoint:expr) => {{
        use $sdk::config::{BehaviorVersion, Credentials, Region};
        $sdk::Client::from_conf(
            $sdk::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new("test", "test", None, None, "test"))
                .endpoint_url($endpoint)
                .http_client(helve::aws::https_client())
                .build(),
        )
    }};
}

fn ssm_client(endpoint: &str) -> aws_sdk_ssm::Client {
    sdk_client!(aws_sdk_ssm, endpoint)
}

fn secrets_client(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    sdk_client!(aws_sdk_secretsmanager, endpoint)
}

/// Puts the values of [`seed_extension`] into moto.
async fn seed_moto(endpoint: &str) {
    let ssm = ssm_client(endpoint);
    for (name, kind, value) in [
        (
            "/orders/endpoint",
            SsmType::String,
            "https://orders.internal",
        ),
        ("/orders/api-key", SsmType::SecureString, API_KEY),
        (
            "/orders/regions",
            SsmType::StringList,
            "eu-west-1,us-east-1",
        ),
        (
            "/orders/pool",
            SsmType::String,
            r#"{"host":"db.internal","size":8}"#,
        ),
    ] {
        ssm.put_parameter()
            .name(name)
            .r#type(kind)
            .value(value)
            .send()
            .await
            .unwrap();
    }
    let secrets = secrets_client(endpoint);
    secrets
        .create_secret()
        .name("orders/db")
        .secret_string(database_secret(OLD_PASSWORD))
        .send()
        .await
        .unwrap();
    secrets
        .put_secret_value()
        .secret_id("orders/db")
        .secret_string(database_secret(PASSWORD))
        .send()
        .await
        .unwrap();
    secrets
        .create_secret()
        .name("orders/certificate")
        .secret_binary(Blob::new(CERTIFICATE))
        .send()
        .await
        .unwrap();
}

fn through_sdk(endpoint: &str) -> Parameters {
    Parameters::builder()
        .backend(Backend::Sdk)
        .ssm_client(ssm_client(endpoint))
        .secrets_client(secrets_client(endpoint))
        .max_age(Duration::ZERO)
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_sdk_backend_gives_the_same_values_and_errors_as_the_extension() {
    let Some(moto) = Moto::start_or_skip("the_sdk_backend_gives_the_same_values_and_errors") else {
        return;
    };
    seed_moto(moto.endpoint()).await;
    assert_values_and_errors(&through_sdk(moto.endpoint())).await;
}

#[tokio::test]
async fn the_sdk_backend_reads_by_path_page_by_page_with_relative_names() {
    let Some(moto) = Moto::start_or_skip("the_sdk_backend_reads_by_path") else {
        return;
    };
    let ssm = ssm_client(moto.endpoint());
    let mut names = Vec::new();
    for index in 0..12 {
        names.push(format!("/svc/queue/{index:02}"));
    }
    names.push("/svc/db/host".to_owned());
    names.push("/svc/db/port".to_owned());
    names.push("/other/queue".to_owned());
    for name in &names {
        ssm.put_parameter()
            .name(name)
            .r#type(SsmType::String)
            .value(format!("value of {name}"))
            .send()
            .await
            .unwrap();
    }
    let parameters = through_sdk(moto.endpoint());
    let everything = parameters
        .ssm()
        .get_by_path::<String>("/svc", true)
        .await
        .unwrap();
    assert_eq!(everything.len(), 14, "more than one page: {everything:?}");
    assert_eq!(everything["db/host"], "value of /svc/db/host");
    assert_eq!(everything["queue/11"], "value of /svc/queue/11");
    let queues = parameters
        .ssm()
        .get_by_path::<String>("/svc/queue/", false)
        .await
        .unwrap();
    assert_eq!(queues.len(), 12);
    assert!(queues.contains_key("00"));
    let none = parameters
        .ssm()
        .get_by_path::<String>("/svc", false)
        .await
        .unwrap();
    assert!(none.is_empty(), "nothing directly under /svc: {none:?}");

    let mut twelve: Vec<&str> = names.iter().take(12).map(String::as_str).collect();
    twelve.push("/svc/db/port");
    let many = parameters.ssm().get_many::<String>(&twelve).await.unwrap();
    assert_eq!(many.len(), 13, "two GetParameters calls");

    // Reading by path goes through the SDK also when the other reads go through the extension,
    // which cannot read by path.
    let extension = ParametersExtension::start(TOKEN).await;
    let mixed = Parameters::builder()
        .backend(Backend::Extension)
        .extension_port(extension.port())
        .ssm_client(ssm_client(moto.endpoint()))
        .build()
        .unwrap();
    let through_sdk = mixed
        .ssm()
        .get_by_path::<String>("/svc", true)
        .await
        .unwrap();
    assert_eq!(through_sdk, everything);
    assert!(extension.requests().is_empty());
}

#[tokio::test]
async fn the_sdk_backend_names_a_service_it_cannot_reach() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let error = through_sdk(&endpoint)
        .secrets()
        .get::<String>("orders/db")
        .await
        .unwrap_err();
    assert_eq!(error.code(), codes::PARAMETERS_UNAVAILABLE);
    assert!(
        error
            .to_string()
            .starts_with("secret `orders/db` could not be read from Secrets Manager: "),
        "{error}"
    );
}

fn appconfig_client(endpoint: &str) -> aws_sdk_appconfigdata::Client {
    sdk_client!(aws_sdk_appconfigdata, endpoint)
}

#[tokio::test]
async fn appconfig_through_the_sdk_keeps_the_last_configuration_when_it_is_unchanged() {
    let appconfig = AppConfigData::start().await;
    appconfig.put(
        "orders",
        "prod",
        "switches",
        "application/json",
        br#"{"new_checkout":false}"#,
    );
    appconfig.set_poll_interval(0);
    let parameters = Parameters::builder()
        .backend(Backend::Sdk)
        .appconfig_client(appconfig_client(&appconfig.endpoint()))
        .build()
        .unwrap();
    let read = |force: bool| {
        let parameters = parameters.clone();
        async move {
            let appconfig = parameters.appconfig();
            let appconfig = if force {
                appconfig.force_fetch()
            } else {
                appconfig
            };
            appconfig
                .get::<Value>("orders", "prod", "switches")
                .await
                .map(|value| (*value).clone())
        }
    };
    assert_eq!(read(false).await.unwrap(), json!({"new_checkout": false}));
    assert_eq!(
        (
            appconfig.start_session_calls(),
            appconfig.get_latest_calls()
        ),
        (1, 1)
    );

    // An unchanged configuration (an empty answer) keeps the last value; a new one replaces
    // it. (The fake lets the client poll again at once.)
    assert_eq!(read(true).await.unwrap(), json!({"new_checkout": false}));
    assert_eq!(appconfig.get_latest_calls(), 2);
    appconfig.put(
        "orders",
        "prod",
        "switches",
        "application/json",
        br#"{"new_checkout":true}"#,
    );
    assert_eq!(read(true).await.unwrap(), json!({"new_checkout": true}));
    assert_eq!(appconfig.start_session_calls(), 1, "one session throughout");

    // A token that expired starts a new session.
    appconfig.expire_tokens();
    assert_eq!(read(true).await.unwrap(), json!({"new_checkout": true}));
    assert_eq!(appconfig.start_session_calls(), 2);

    // Within the poll interval AppConfig asks for, even a forced read keeps the last
    // configuration without a call: AppConfig refuses polls sooner than it allows.
    appconfig.set_poll_interval(15);
    read(true).await.unwrap();
    let calls = appconfig.get_latest_calls();
    assert_eq!(read(true).await.unwrap(), json!({"new_checkout": true}));
    assert_eq!(appconfig.get_latest_calls(), calls);

    let error = parameters
        .appconfig()
        .get::<Value>("orders", "prod", "missing")
        .await
        .unwrap_err();
    assert!(matches!(error, ParameterError::NotFound { .. }), "{error}");
}

/// Every line the process wrote, stdout and stderr.
fn everything_written(api: &RuntimeApi) -> String {
    api.process_output()
}

/// What the function wrote on stdout and on stderr.
async fn run_secret_logger(api: &mut RuntimeApi, env: &[(&str, String)]) -> (String, String) {
    let mut launch = api.function("secret-logger");
    launch
        .env("POWERTOOLS_LOG_LEVEL", "DEBUG")
        .env("POWERTOOLS_LOGGER_LOG_EVENT", "true")
        .env("AWS_SESSION_TOKEN", TOKEN);
    for (name, value) in env {
        launch.env(name, value);
    }
    let function = launch.spawn();
    api.push(
        "ok-1",
        &json!({"note": format!("the caller sent {PASSWORD}")}).to_string(),
    );
    match api.next_outcome().await {
        Outcome::Response { body, .. } => assert_eq!(body, json!({"user": "orders_app"})),
        other => panic!(
            "expected a response: {other:?}\n{}",
            everything_written(api)
        ),
    }
    api.push("fail-2", r#"{"fail": true}"#);
    match api.next_outcome().await {
        Outcome::Error { .. } => {}
        other => panic!("expected an error: {other:?}\n{}", everything_written(api)),
    }
    let exit = function.stop().await;
    (exit.stdout, exit.stderr)
}

fn assert_no_secret_in((output, stderr): &(String, String)) {
    for secret in [API_KEY, PASSWORD] {
        assert!(
            !output.contains(secret) && !stderr.contains(secret),
            "a secret reached the output:\n{output}\n{stderr}"
        );
    }
    let lines = log_lines(output);
    assert!(
        lines.iter().any(|line| line.fields["level"] == "DEBUG"),
        "DEBUG lines were written:\n{output}"
    );
    let masked = output.matches("[REDACTED]").count();
    assert!(
        masked >= 8,
        "the secrets were masked, not dropped:\n{output}"
    );
    assert!(
        output.contains("postgres://orders_app:[REDACTED]@db.internal"),
        "{output}"
    );
}

#[tokio::test]
async fn a_secret_read_through_the_extension_never_reaches_a_log_line() {
    let extension = ParametersExtension::start(TOKEN).await;
    seed_extension(&extension);
    let mut api = RuntimeApi::start().await;
    let output = run_secret_logger(
        &mut api,
        &[
            ("POWERTOOLS_PARAMETERS_BACKEND", "extension".to_owned()),
            (
                "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
                extension.port().to_string(),
            ),
        ],
    )
    .await;
    assert_no_secret_in(&output);
}

#[tokio::test]
async fn a_secret_read_through_the_sdk_never_reaches_a_log_line() {
    let Some(moto) = Moto::start_or_skip("a_secret_read_through_the_sdk_never_reaches_a_log_line")
    else {
        return;
    };
    seed_moto(moto.endpoint()).await;
    let mut api = RuntimeApi::start().await;
    let output = run_secret_logger(
        &mut api,
        &[
            ("POWERTOOLS_PARAMETERS_BACKEND", "sdk".to_owned()),
            ("AWS_ENDPOINT_URL", moto.endpoint().to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_owned()),
        ],
    )
    .await;
    assert_no_secret_in(&output);
}

#[tokio::test]
async fn a_secret_missing_in_the_init_step_fails_the_init_with_its_type() {
    let extension = ParametersExtension::start(TOKEN).await;
    extension.put_parameter("/orders/api-key", ParameterType::SecureString, API_KEY);
    let mut api = RuntimeApi::start().await;
    let function = api
        .function("secret-logger")
        .env("AWS_SESSION_TOKEN", TOKEN)
        .env("POWERTOOLS_PARAMETERS_BACKEND", "extension")
        .env(
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
            extension.port().to_string(),
        )
        .spawn();
    match api.next_outcome().await {
        Outcome::InitError { body, .. } => {
            assert_eq!(body["errorType"], codes::PARAMETER_NOT_FOUND);
            assert_eq!(
                body["errorMessage"],
                "the init function `setup` failed (helve.ParameterNotFound): secret `orders/db` was not found in Secrets Manager"
            );
        }
        other => panic!("expected an init error: {other:?}"),
    }
    let exit = function.wait().await;
    assert_eq!(exit.code(), Some(1));
}
