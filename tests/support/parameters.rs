//! Fakes, on 127.0.0.1, of what `helve::parameters` reads: the AWS Parameters and Secrets
//! Lambda Extension ([`ParametersExtension`]: SSM Parameter Store and Secrets Manager over plain
//! HTTP), the AWS AppConfig Agent Lambda extension ([`AppConfigAgent`]), and the AppConfigData
//! API that aws-sdk-appconfigdata calls ([`AppConfigData`]). None of them is AWS: each speaks
//! just enough of the real wire format to answer as the real one does, and records what it
//! was asked.
//!
//! ```ignore
//! let extension = ParametersExtension::start("session-token").await;
//! extension.put_parameter("/shop/db-url", ParameterType::SecureString, "postgres://db");
//! extension.put_secret_string("shop/api-key", "k1");
//! // ... a function with PARAMETERS_SECRETS_EXTENSION_HTTP_PORT = extension.port() and
//! // AWS_SESSION_TOKEN = "session-token" reads both, twice ...
//! assert_eq!(extension.count(Route::Parameter, "/shop/db-url"), 1); // cached
//!
//! let appconfig = AppConfigData::start().await;
//! appconfig.put("shop", "prod", "flags", "application/json", br#"{"beta":true}"#);
//! // ... a client with `endpoint_url(appconfig.endpoint())` polls ...
//! assert_eq!(appconfig.start_session_calls(), 1);
//! ```
//!
//! What the fakes rely on, and where it was read:
//!
//! - The Parameters and Secrets extension: `GET /systemsmanager/parameters/get?name=NAME`
//!   (`&withDecryption=true`, `&version=N` or `&label=L`) and `GET /secretsmanager/get?
//!   secretId=ID` (`&versionStage=S` or `&versionId=V`), the header
//!   `X-Aws-Parameters-Secrets-Token` holding the function's `AWS_SESSION_TOKEN`, the port from
//!   `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` (2773 by default): the AWS Systems Manager user
//!   guide, "Using Parameter Store parameters in AWS Lambda functions"
//!   (docs.aws.amazon.com/systems-manager/latest/userguide/ps-integration-lambda-extensions.html)
//!   and the Secrets Manager user guide, "Use AWS Secrets Manager secrets in AWS Lambda
//!   functions" (retrieving-secrets_lambda.html). The answer is the service's own
//!   `GetParameter` / `GetSecretValue` output (the output shapes of the GetParameter and
//!   GetSecretValue API references) as a Go SDK's output struct marshals it: `"Selector":null`,
//!   `"ResultMetadata":{}`, `SecretBinary` as base64 and, inferred from that, dates as RFC 3339
//!   strings (the API references show epoch seconds; a client should not depend on either).
//! - A request without the right token: the real extension answered `401`, `content-type:
//!   text/plain`, `x-amzn-errortype: AccessDeniedException`, body `bad session token or header
//!   key` (a response quoted in github.com/awslabs/aws-sdk-rust/issues/905).
//! - A parameter or secret that does not exist: not documented for the extension. The fake
//!   answers as the AWS Secrets Manager Agent does (github.com/aws/aws-secretsmanager-agent,
//!   `cache_manager.rs` and `utils.rs`, the extension's open-source sibling with the same
//!   routes and token header): the service's status, 400, and its error as a JSON 1.1 body,
//!   `{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified
//!   secret."}`; for SSM `{"__type":"ParameterNotFound"}` (SSM sends no message with it). Some
//!   clients in the wild expect 404 instead: [`ParametersExtension::set_missing_status`].
//! - The AppConfig agent: `GET /applications/{app}/environments/{env}/configurations/
//!   {profile}` on `AWS_APPCONFIG_EXTENSION_HTTP_PORT` (2772 by default), 200 with the
//!   configuration's bytes and its content type, 400 / 404 / 500 for BadRequestException /
//!   ResourceNotFoundException / InternalServerException with an `application/text` body: the
//!   agent's OpenAPI model in the AWS AppConfig user guide
//!   (appconfig-integration-lambda-extensions-OpenAPI.html). That model names the version
//!   header `ConfigurationVersion`; the fake sends it as `Configuration-Version`.
//! - AppConfigData, restJson1, from aws-sdk-appconfigdata's generated code
//!   (github.com/awslabs/aws-sdk-rust, `sdk/appconfigdata/src/operation/*.rs` and
//!   `src/protocol_serde/*.rs`): `POST /configurationsessions` with a JSON body of
//!   `ApplicationIdentifier`, `EnvironmentIdentifier`, `ConfigurationProfileIdentifier` and
//!   optionally `RequiredMinimumPollIntervalInSeconds`, success being 201 with
//!   `{"InitialConfigurationToken":..}`; `GET /configuration?configuration_token=TOKEN`, success
//!   200 with the headers `Next-Poll-Configuration-Token`, `Next-Poll-Interval-In-Seconds`,
//!   `Content-Type`, `Version-Label` and the configuration as the body (no body: the
//!   configuration is unchanged). An error is any other status, its code read from the
//!   `x-amzn-errortype` header (else `code` / `__type` in the body) and its message from
//!   `Message` / `message` (smithy-rs, `rust-runtime/inlineable/src/json_errors.rs`), the
//!   modeled ones being BadRequestException (`Message`, `Reason`, `Details.InvalidParameters`
//!   with a `Problem` of `Corrupted`, `Expired` or `PollIntervalNotSatisfied`) and
//!   ResourceNotFoundException (`Message`, `ResourceType`). Each token is valid for one call
//!   (the GetLatestConfiguration API reference); which `Problem` the service gives a token used
//!   twice is not documented (the fake says `Expired`), and the fake does not enforce the poll
//!   interval (`PollIntervalNotSatisfied`).

use std::{
    collections::HashMap,
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{
    HeaderMap, Method, Request, Response, StatusCode, body::Incoming, server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::{
    net::{TcpListener, TcpSocket},
    task::JoinHandle,
};

/// The variable naming the Parameters and Secrets extension's port (2773 when unset).
pub(crate) const PARAMETERS_SECRETS_PORT_VARIABLE: &str = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT";

/// The variable naming the AppConfig agent extension's port (2772 when unset).
pub(crate) const APPCONFIG_PORT_VARIABLE: &str = "AWS_APPCONFIG_EXTENSION_HTTP_PORT";

/// The header carrying the session token on every request to the Parameters and Secrets
/// extension (matched without regard to case, as HTTP header names are).
pub(crate) const TOKEN_HEADER: &str = "X-Aws-Parameters-Secrets-Token";

/// The account and region every ARN the fakes make names.
const ARN_REGION_ACCOUNT: &str = "us-east-1:123456789012";

/// What the real extension answered a request without the right token (aws-sdk-rust#905).
const BAD_TOKEN_BODY: &str = "bad session token or header key";

/// The poll interval AppConfigData answers when the session did not ask for one, in seconds.
const DEFAULT_POLL_INTERVAL_SECONDS: i64 = 60;

/// The state behind `mutex`, even when a panicking thread poisoned it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the state from the others.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// The Parameters and Secrets extension.

/// The type of an SSM parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParameterType {
    /// Plain text.
    String,
    /// Comma-separated values, answered as stored (`a,b,c`).
    StringList,
    /// Encrypted: answered in plain only with `withDecryption=true`, else as an opaque
    /// ciphertext-like value that never contains the plain value.
    SecureString,
}

impl ParameterType {
    /// The name the service gives the type (`Parameter.Type`).
    fn as_str(self) -> &'static str {
        match self {
            Self::String => "String",
            Self::StringList => "StringList",
            Self::SecureString => "SecureString",
        }
    }
}

/// Which of the extension's routes a request took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Route {
    /// `GET /systemsmanager/parameters/get`.
    Parameter,
    /// `GET /secretsmanager/get`.
    Secret,
}

/// One request the extension received, as it was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExtensionRequest {
    /// The route, `None` for any other path.
    pub(crate) route: Option<Route>,
    pub(crate) method: String,
    pub(crate) path: String,
    /// The query's pairs, percent-decoded (`+` decoded as a space, as Go's `url.Query` does).
    pub(crate) query: Vec<(String, String)>,
    /// The parameter's `name` or the secret's `secretId`, decoded.
    pub(crate) name: Option<String>,
    /// The `X-Aws-Parameters-Secrets-Token` header as sent.
    pub(crate) token: Option<String>,
    /// The status it was answered with.
    pub(crate) status: u16,
}

impl ExtensionRequest {
    /// The value of the query parameter `key`, decoded.
    pub(crate) fn query_value(&self, key: &str) -> Option<&str> {
        query_value(&self.query, key)
    }
}

#[derive(Debug)]
struct ParameterVersion {
    value: String,
    labels: Vec<String>,
}

#[derive(Debug)]
struct StoredParameter {
    kind: ParameterType,
    /// Version `n` is at index `n - 1`.
    versions: Vec<ParameterVersion>,
}

#[derive(Debug, Clone)]
enum SecretValue {
    String(String),
    Binary(Vec<u8>),
}

#[derive(Debug)]
struct SecretVersion {
    id: String,
    stages: Vec<String>,
    value: SecretValue,
    /// Its place among every version the extension made, for a distinct `CreatedDate`.
    serial: u64,
}

#[derive(Debug)]
struct StoredSecret {
    arn: String,
    versions: Vec<SecretVersion>,
}

/// Faults and timing, shared by the three fakes.
#[derive(Debug, Default)]
struct Faults {
    /// How many of the next requests are answered 500.
    fail_next: usize,
    /// The wait before every answer.
    delay: Duration,
}

impl Faults {
    /// Whether this request is to fail, counting it down.
    fn take_failure(&mut self) -> bool {
        if self.fail_next > 0 {
            self.fail_next -= 1;
            true
        } else {
            false
        }
    }
}

#[derive(Debug)]
struct ExtensionState {
    token: String,
    parameters: HashMap<String, StoredParameter>,
    secrets: HashMap<String, StoredSecret>,
    /// How many secret versions were made, for their ids.
    secret_versions: u64,
    missing_status: StatusCode,
    faults: Faults,
    requests: Vec<ExtensionRequest>,
}

/// The AWS Parameters and Secrets Lambda Extension on a port of 127.0.0.1: SSM parameters and
/// Secrets Manager secrets, put by the test, answered to requests carrying the session token.
/// It stops when dropped.
#[derive(Debug)]
pub(crate) struct ParametersExtension {
    addr: SocketAddr,
    state: Arc<Mutex<ExtensionState>>,
    accepting: Arc<AtomicBool>,
    server: JoinHandle<()>,
}

impl Drop for ParametersExtension {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl ParametersExtension {
    /// An extension accepting connections now, answering requests whose token is `token`.
    pub(crate) async fn start(token: &str) -> Self {
        Self::start_after(Duration::ZERO, token).await
    }

    /// An extension whose port is reserved now but which accepts connections only after
    /// `delay`: until then a connection is refused (the port is bound but not listening), as
    /// while the real extension is still starting.
    pub(crate) async fn start_after(delay: Duration, token: &str) -> Self {
        let (socket, addr) = reserve_port().await;
        let state = Arc::new(Mutex::new(ExtensionState {
            token: token.to_owned(),
            parameters: HashMap::new(),
            secrets: HashMap::new(),
            secret_versions: 0,
            missing_status: StatusCode::BAD_REQUEST,
            faults: Faults::default(),
            requests: Vec::new(),
        }));
        let accepting = Arc::new(AtomicBool::new(false));
        let server = spawn_server(
            socket,
            delay,
            Arc::clone(&accepting),
            Arc::clone(&state),
            answer_extension,
        );
        if delay.is_zero() {
            wait_accepting(&accepting).await;
        }
        Self {
            addr,
            state,
            accepting,
            server,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The port, for `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`.
    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Whether it accepts connections yet (see [`start_after`](Self::start_after)).
    pub(crate) fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::SeqCst)
    }

    /// Puts a parameter, as `PutParameter` with `Overwrite` does: a new parameter is version 1,
    /// each later put of the same name adds the next version (its type may change). Returns
    /// the version made.
    pub(crate) fn put_parameter(&self, name: &str, kind: ParameterType, value: &str) -> i64 {
        let mut state = lock(&self.state);
        let parameter =
            state
                .parameters
                .entry(name.to_owned())
                .or_insert_with(|| StoredParameter {
                    kind,
                    versions: Vec::new(),
                });
        parameter.kind = kind;
        parameter.versions.push(ParameterVersion {
            value: value.to_owned(),
            labels: Vec::new(),
        });
        i64::try_from(parameter.versions.len()).expect("fewer than 2^63 versions")
    }

    /// Moves the label `label` to version `version` of the parameter `name`, as
    /// `LabelParameterVersion` does.
    ///
    /// # Panics
    ///
    /// If the parameter or the version does not exist.
    pub(crate) fn label_parameter(&self, name: &str, version: i64, label: &str) {
        let mut state = lock(&self.state);
        let parameter = state
            .parameters
            .get_mut(name)
            .unwrap_or_else(|| panic!("no parameter {name} to label"));
        for each in &mut parameter.versions {
            each.labels.retain(|existing| existing != label);
        }
        let index = usize::try_from(version - 1).expect("versions start at 1");
        parameter
            .versions
            .get_mut(index)
            .unwrap_or_else(|| panic!("the parameter {name} has no version {version}"))
            .labels
            .push(label.to_owned());
    }

    /// Puts a new version of the secret `id` holding `value` as `SecretString`, as
    /// `PutSecretValue` does: the new version is `AWSCURRENT`, the one that was is
    /// `AWSPREVIOUS`. Returns the new version's id (UUID-shaped).
    pub(crate) fn put_secret_string(&self, id: &str, value: &str) -> String {
        self.put_secret(id, SecretValue::String(value.to_owned()))
    }

    /// Puts a new version of the secret `id` holding `value` as `SecretBinary` (answered
    /// base64-encoded, as the JSON protocol sends blobs), as
    /// [`put_secret_string`](Self::put_secret_string) does.
    pub(crate) fn put_secret_binary(&self, id: &str, value: &[u8]) -> String {
        self.put_secret(id, SecretValue::Binary(value.to_vec()))
    }

    /// Adds a version holding `value`, moving `AWSCURRENT` and `AWSPREVIOUS` along.
    fn put_secret(&self, id: &str, value: SecretValue) -> String {
        let mut state = lock(&self.state);
        state.secret_versions += 1;
        let serial = state.secret_versions;
        let version_id = format!("00000000-0000-4000-8000-{serial:012x}");
        let secret = state
            .secrets
            .entry(id.to_owned())
            .or_insert_with(|| StoredSecret {
                arn: format!(
                    "arn:aws:secretsmanager:{ARN_REGION_ACCOUNT}:secret:{id}-{}",
                    arn_suffix(id)
                ),
                versions: Vec::new(),
            });
        for version in &mut secret.versions {
            version.stages.retain(|stage| stage != "AWSPREVIOUS");
            for stage in &mut version.stages {
                if stage == "AWSCURRENT" {
                    *stage = "AWSPREVIOUS".to_owned();
                }
            }
        }
        secret.versions.push(SecretVersion {
            id: version_id.clone(),
            stages: vec!["AWSCURRENT".to_owned()],
            value,
            serial,
        });
        version_id
    }

    /// Moves the staging label `stage` (e.g. `AWSPENDING`) to the version `version_id` of the
    /// secret `id`, as `UpdateSecretVersionStage` does.
    ///
    /// # Panics
    ///
    /// If the secret or the version does not exist.
    pub(crate) fn stage_secret_version(&self, id: &str, version_id: &str, stage: &str) {
        let mut state = lock(&self.state);
        let secret = state
            .secrets
            .get_mut(id)
            .unwrap_or_else(|| panic!("no secret {id} to stage"));
        assert!(
            secret
                .versions
                .iter()
                .any(|version| version.id == version_id),
            "the secret {id} has no version {version_id}"
        );
        for version in &mut secret.versions {
            version.stages.retain(|existing| existing != stage);
            if version.id == version_id {
                version.stages.push(stage.to_owned());
            }
        }
    }

    /// The ARN of the secret `id`, which the extension also accepts as `secretId`.
    ///
    /// # Panics
    ///
    /// If the secret does not exist.
    pub(crate) fn secret_arn(&self, id: &str) -> String {
        lock(&self.state)
            .secrets
            .get(id)
            .unwrap_or_else(|| panic!("no secret {id}"))
            .arn
            .clone()
    }

    /// From now on, a parameter or secret that does not exist is answered with `status`
    /// instead of 400 (with the same JSON error body).
    pub(crate) fn set_missing_status(&self, status: u16) {
        lock(&self.state).missing_status =
            StatusCode::from_u16(status).unwrap_or_else(|_| panic!("{status} is not a status"));
    }

    /// Answers the next `count` requests, whatever they ask, with 500 (the extension's own
    /// failure, before it reads the request).
    pub(crate) fn fail_next(&self, count: usize) {
        lock(&self.state).faults.fail_next = count;
    }

    /// Waits `delay` before every later answer, so that concurrent callers overlap.
    pub(crate) fn set_delay(&self, delay: Duration) {
        lock(&self.state).faults.delay = delay;
    }

    /// Every request received so far, in arrival order (recorded before the delay).
    pub(crate) fn requests(&self) -> Vec<ExtensionRequest> {
        lock(&self.state).requests.clone()
    }

    /// How many requests took `route` for the parameter or secret `name` (whatever they were
    /// answered).
    pub(crate) fn count(&self, route: Route, name: &str) -> usize {
        lock(&self.state)
            .requests
            .iter()
            .filter(|request| request.route == Some(route) && request.name.as_deref() == Some(name))
            .count()
    }
}

/// The answer of the Parameters and Secrets extension to one request.
fn answer_extension(state: &Mutex<ExtensionState>, request: Received) -> (Answer, Duration) {
    let mut state = lock(state);
    let route = match request.path.as_str() {
        "/systemsmanager/parameters/get" | "/systemsmanager/parameters/get/" => {
            Some(Route::Parameter)
        }
        "/secretsmanager/get" | "/secretsmanager/get/" => Some(Route::Secret),
        _ => None,
    };
    let name_key = match route {
        Some(Route::Parameter) => "name",
        Some(Route::Secret) => "secretId",
        None => "",
    };
    let name = query_value(&request.query, name_key).map(str::to_owned);
    let token = header(&request.headers, TOKEN_HEADER);
    let answer = if state.faults.take_failure() {
        Answer::text(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
    } else if token.as_deref() != Some(state.token.as_str()) {
        Answer::text(StatusCode::UNAUTHORIZED, BAD_TOKEN_BODY)
            .header("x-amzn-errortype", "AccessDeniedException")
    } else if request.method != Method::GET {
        Answer::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
    } else {
        match (route, name.as_deref()) {
            (None, _) => Answer::text(StatusCode::NOT_FOUND, "not found"),
            (Some(_), None | Some("")) => Answer::text(
                StatusCode::BAD_REQUEST,
                &format!("missing required query parameter {name_key}"),
            ),
            (Some(Route::Parameter), Some(name)) => parameter_answer(&state, name, &request.query),
            (Some(Route::Secret), Some(id)) => secret_answer(&state, id, &request.query),
        }
    };
    state.requests.push(ExtensionRequest {
        route,
        method: request.method.to_string(),
        path: request.path,
        query: request.query,
        name,
        token,
        status: answer.status.as_u16(),
    });
    (answer, state.faults.delay)
}

/// The `GetParameter` answer for `name` (its name or ARN), by `version`, `label` or the latest.
fn parameter_answer(state: &ExtensionState, name: &str, query: &[(String, String)]) -> Answer {
    let missing = |kind: &str, message: Option<String>| {
        let mut body = json!({ "__type": kind });
        if let Some(message) = message {
            body["message"] = Value::String(message);
        }
        Answer::json(state.missing_status, &body)
    };
    let found = state.parameters.get_key_value(name).or_else(|| {
        state
            .parameters
            .iter()
            .find(|(stored, _)| parameter_arn(stored) == name)
    });
    let Some((stored_name, parameter)) = found else {
        return missing("ParameterNotFound", None);
    };
    let (version, selector) = if let Some(version) = query_value(query, "version") {
        match version.parse::<usize>() {
            Ok(number) if (1..=parameter.versions.len()).contains(&number) => {
                (number, Some(format!(":{number}")))
            }
            _ => {
                return missing(
                    "ParameterVersionNotFound",
                    Some(format!(
                        "Systems Manager could not find version {version} of {name}. Verify \
                         the version and try again."
                    )),
                );
            }
        }
    } else if let Some(label) = query_value(query, "label") {
        match parameter
            .versions
            .iter()
            .position(|each| each.labels.iter().any(|existing| existing == label))
        {
            Some(index) => (index + 1, Some(format!(":{label}"))),
            None => {
                return missing(
                    "ParameterVersionNotFound",
                    Some(format!(
                        "Systems Manager could not find label {label} of {name}."
                    )),
                );
            }
        }
    } else {
        (parameter.versions.len(), None)
    };
    let stored = &parameter.versions[version - 1];
    let decrypt = query_value(query, "withDecryption")
        .is_some_and(|value| value.eq_ignore_ascii_case("true"));
    let value = if parameter.kind == ParameterType::SecureString && !decrypt {
        ciphertext(&stored.value)
    } else {
        stored.value.clone()
    };
    let version = i64::try_from(version).expect("fewer than 2^63 versions");
    Answer::json(
        StatusCode::OK,
        &json!({
            "Parameter": {
                "ARN": parameter_arn(stored_name),
                "DataType": "text",
                "LastModifiedDate": timestamp(u64::try_from(version).unwrap_or_default()),
                "Name": stored_name,
                "Selector": selector,
                "SourceResult": null,
                "Type": parameter.kind.as_str(),
                "Value": value,
                "Version": version,
            },
            "ResultMetadata": {},
        }),
    )
}

/// The `GetSecretValue` answer for `id` (its name or ARN), by `versionId`, `versionStage` or
/// `AWSCURRENT`.
fn secret_answer(state: &ExtensionState, id: &str, query: &[(String, String)]) -> Answer {
    let missing = |message: String| {
        Answer::json(
            state.missing_status,
            &json!({ "__type": "ResourceNotFoundException", "message": message }),
        )
    };
    let found = state
        .secrets
        .get_key_value(id)
        .or_else(|| state.secrets.iter().find(|(_, secret)| secret.arn == id));
    let Some((name, secret)) = found else {
        return missing("Secrets Manager can't find the specified secret.".to_owned());
    };
    let version_id = query_value(query, "versionId");
    let stage = query_value(query, "versionStage");
    let version = match (version_id, stage) {
        (Some(version_id), stage) => secret.versions.iter().find(|version| {
            version.id == version_id
                && stage.is_none_or(|stage| version.stages.iter().any(|each| each == stage))
        }),
        (None, stage) => {
            let stage = stage.unwrap_or("AWSCURRENT");
            secret
                .versions
                .iter()
                .find(|version| version.stages.iter().any(|each| each == stage))
        }
    };
    let Some(version) = version else {
        return missing(match (version_id, stage) {
            (Some(version_id), _) => format!(
                "Secrets Manager can't find the specified secret value for VersionId: {version_id}"
            ),
            (None, stage) => format!(
                "Secrets Manager can't find the specified secret value for staging label: {}",
                stage.unwrap_or("AWSCURRENT")
            ),
        });
    };
    let (binary, string) = match &version.value {
        SecretValue::String(value) => (Value::Null, Value::String(value.clone())),
        SecretValue::Binary(bytes) => (
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
            Value::Null,
        ),
    };
    Answer::json(
        StatusCode::OK,
        &json!({
            "ARN": secret.arn,
            "CreatedDate": timestamp(version.serial),
            "Name": name,
            "SecretBinary": binary,
            "SecretString": string,
            "VersionId": version.id,
            "VersionStages": version.stages,
            "ResultMetadata": {},
        }),
    )
}

/// The ARN of the parameter `name` (`/a/b` is `...:parameter/a/b`).
fn parameter_arn(name: &str) -> String {
    format!(
        "arn:aws:ssm:{ARN_REGION_ACCOUNT}:parameter/{}",
        name.trim_start_matches('/')
    )
}

/// Six characters standing for the random suffix Secrets Manager gives every secret's ARN.
fn arn_suffix(id: &str) -> String {
    let mut hash: u32 = 2_166_136_261;
    for byte in id.bytes() {
        hash = (hash ^ u32::from(byte)).wrapping_mul(16_777_619);
    }
    let letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    (0..6)
        .map(|index| char::from(letters[((hash >> (index * 5)) % 52) as usize]))
        .collect()
}

/// What a SecureString read without decryption looks like: base64 of scrambled bytes behind
/// the `AQICAH` prefix a KMS ciphertext blob starts with; never the plain value.
fn ciphertext(plain: &str) -> String {
    let scrambled: Vec<u8> = plain
        .bytes()
        .enumerate()
        .map(|(index, byte)| byte ^ 0xA5 ^ (index as u8).wrapping_mul(31))
        .collect();
    format!(
        "AQICAHh{}",
        base64::engine::general_purpose::STANDARD.encode(scrambled)
    )
}

/// A distinct, deterministic RFC 3339 time for the `n`-th version: 2024-05-01T12:00:00Z plus
/// `n` seconds.
fn timestamp(n: u64) -> String {
    format!(
        "2024-05-01T{:02}:{:02}:{:02}Z",
        12 + (n / 3600) % 12,
        (n / 60) % 60,
        n % 60
    )
}

// The AppConfig agent extension.

/// The identifiers of one AppConfig configuration profile, in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ProfileKey {
    application: String,
    environment: String,
    profile: String,
}

impl ProfileKey {
    /// The key of the profile, from its three identifiers.
    fn new(application: &str, environment: &str, profile: &str) -> Self {
        Self {
            application: application.to_owned(),
            environment: environment.to_owned(),
            profile: profile.to_owned(),
        }
    }
}

/// One deployed configuration.
#[derive(Debug, Clone)]
struct Deployed {
    content_type: String,
    content: Bytes,
    /// 1 for the first put of a profile, then 2, ...
    version: u64,
}

/// One request the AppConfig agent received, as it was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AgentRequest {
    pub(crate) method: String,
    pub(crate) path: String,
    /// The application, environment and profile of the path, percent-decoded, when the path
    /// has the agent's shape.
    pub(crate) profile: Option<(String, String, String)>,
    /// The status it was answered with.
    pub(crate) status: u16,
}

#[derive(Debug, Default)]
struct AgentState {
    deployed: HashMap<ProfileKey, Deployed>,
    faults: Faults,
    requests: Vec<AgentRequest>,
}

/// The AWS AppConfig Agent Lambda extension on an ephemeral port of 127.0.0.1: configurations
/// put by the test, answered at `/applications/{app}/environments/{env}/configurations/
/// {profile}`. It stops when dropped.
#[derive(Debug)]
pub(crate) struct AppConfigAgent {
    addr: SocketAddr,
    state: Arc<Mutex<AgentState>>,
    server: JoinHandle<()>,
}

impl Drop for AppConfigAgent {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl AppConfigAgent {
    /// An agent with no configuration yet.
    pub(crate) async fn start() -> Self {
        let (socket, addr) = reserve_port().await;
        let state = Arc::new(Mutex::new(AgentState::default()));
        let accepting = Arc::new(AtomicBool::new(false));
        let server = spawn_server(
            socket,
            Duration::ZERO,
            Arc::clone(&accepting),
            Arc::clone(&state),
            answer_agent,
        );
        wait_accepting(&accepting).await;
        Self {
            addr,
            state,
            server,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The port, for `AWS_APPCONFIG_EXTENSION_HTTP_PORT`.
    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Deploys `content` of type `content_type` to the profile: answered from now on, with
    /// `Configuration-Version` one more than the profile's last.
    pub(crate) fn put(
        &self,
        application: &str,
        environment: &str,
        profile: &str,
        content_type: &str,
        content: &[u8],
    ) {
        let mut state = lock(&self.state);
        let key = ProfileKey::new(application, environment, profile);
        let version = state.deployed.get(&key).map_or(1, |last| last.version + 1);
        state.deployed.insert(
            key,
            Deployed {
                content_type: content_type.to_owned(),
                content: Bytes::copy_from_slice(content),
                version,
            },
        );
    }

    /// Answers the next `count` requests with 500 (InternalServerException).
    pub(crate) fn fail_next(&self, count: usize) {
        lock(&self.state).faults.fail_next = count;
    }

    /// Waits `delay` before every later answer.
    pub(crate) fn set_delay(&self, delay: Duration) {
        lock(&self.state).faults.delay = delay;
    }

    /// Every request received so far, in arrival order.
    pub(crate) fn requests(&self) -> Vec<AgentRequest> {
        lock(&self.state).requests.clone()
    }

    /// How many requests asked for the profile (whatever they were answered).
    pub(crate) fn count(&self, application: &str, environment: &str, profile: &str) -> usize {
        let wanted = (
            application.to_owned(),
            environment.to_owned(),
            profile.to_owned(),
        );
        lock(&self.state)
            .requests
            .iter()
            .filter(|request| request.profile.as_ref() == Some(&wanted))
            .count()
    }
}

/// The answer of the AppConfig agent to one request.
fn answer_agent(state: &Mutex<AgentState>, request: Received) -> (Answer, Duration) {
    let mut state = lock(state);
    let segments: Vec<String> = request
        .path
        .trim_start_matches('/')
        .split('/')
        .map(|segment| percent_decode(segment, false))
        .collect();
    let profile = match segments.as_slice() {
        [
            applications,
            application,
            environments,
            environment,
            configurations,
            profile,
        ] if applications == "applications"
            && environments == "environments"
            && configurations == "configurations" =>
        {
            Some((application.clone(), environment.clone(), profile.clone()))
        }
        _ => None,
    };
    let text = |status: StatusCode, message: &str| {
        Answer::new(status, "application/text", Bytes::from(message.to_owned()))
    };
    let answer = if state.faults.take_failure() {
        text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerException: the agent failed",
        )
    } else if request.method != Method::GET {
        text(
            StatusCode::BAD_REQUEST,
            "BadRequestException: only GET is served",
        )
    } else {
        match &profile {
            None => text(
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException: no such route",
            ),
            Some((application, environment, name)) => {
                match state
                    .deployed
                    .get(&ProfileKey::new(application, environment, name))
                {
                    Some(deployed) => Answer::new(
                        StatusCode::OK,
                        &deployed.content_type,
                        deployed.content.clone(),
                    )
                    .header("Configuration-Version", &deployed.version.to_string()),
                    None => text(
                        StatusCode::NOT_FOUND,
                        &format!(
                            "ResourceNotFoundException: no configuration {name} in \
                             {application}/{environment}"
                        ),
                    ),
                }
            }
        }
    };
    state.requests.push(AgentRequest {
        method: request.method.to_string(),
        path: request.path,
        profile,
        status: answer.status.as_u16(),
    });
    (answer, state.faults.delay)
}

// AppConfigData.

/// An AppConfigData operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataOperation {
    /// `POST /configurationsessions`.
    StartConfigurationSession,
    /// `GET /configuration`.
    GetLatestConfiguration,
    /// Any other method or path.
    Unknown,
}

/// One request AppConfigData received, as it was answered.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DataRequest {
    pub(crate) operation: DataOperation,
    pub(crate) method: String,
    pub(crate) path: String,
    /// The `content-type` header as sent.
    pub(crate) content_type: Option<String>,
    /// The body, as JSON (`Value::Null` when empty or not JSON).
    pub(crate) body: Value,
    /// `configuration_token` of a `GetLatestConfiguration`, decoded.
    pub(crate) configuration_token: Option<String>,
    /// Whether the request carries a SigV4 `Authorization` header (never checked).
    pub(crate) signed: bool,
    /// The status it was answered with.
    pub(crate) status: u16,
    /// The error type answered (`x-amzn-errortype`), if it was an error.
    pub(crate) error_type: Option<String>,
    /// The length of the configuration answered (0: unchanged, or an error).
    pub(crate) configuration_bytes: usize,
}

#[derive(Debug)]
struct Session {
    key: ProfileKey,
    poll_interval: i64,
    /// The version this session last received, if any.
    last_version: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenState {
    Fresh,
    Used,
    Expired,
}

#[derive(Debug, Default)]
struct DataState {
    deployed: HashMap<ProfileKey, Deployed>,
    sessions: Vec<Session>,
    /// Each token issued, with its session (an index into `sessions`).
    tokens: HashMap<String, (usize, TokenState)>,
    /// The `Next-Poll-Interval-In-Seconds` answered instead of the session's own.
    poll_interval: Option<i64>,
    issued: u64,
    faults: Faults,
    requests: Vec<DataRequest>,
}

impl DataState {
    /// A new token for the session `session`. Tokens contain `+`, `/` and `=`, as real ones
    /// (base64) do, so that a client that does not percent-encode the query is caught.
    fn issue_token(&mut self, session: usize) -> String {
        self.issued += 1;
        let token = format!("AYADe+{session}/{}/token==", self.issued);
        self.tokens
            .insert(token.clone(), (session, TokenState::Fresh));
        token
    }
}

/// The AppConfigData API (`appconfigdata`, restJson1) on an ephemeral port of 127.0.0.1, for
/// the real aws-sdk-appconfigdata client given its endpoint as `endpoint_url`: sessions, tokens
/// usable once, the configuration only when it changed for the session. Any `Authorization`
/// is accepted, unchecked. It stops when dropped.
#[derive(Debug)]
pub(crate) struct AppConfigData {
    addr: SocketAddr,
    state: Arc<Mutex<DataState>>,
    server: JoinHandle<()>,
}

impl Drop for AppConfigData {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl AppConfigData {
    /// An AppConfigData with no configuration yet.
    pub(crate) async fn start() -> Self {
        let (socket, addr) = reserve_port().await;
        let state = Arc::new(Mutex::new(DataState::default()));
        let accepting = Arc::new(AtomicBool::new(false));
        let server = spawn_server(
            socket,
            Duration::ZERO,
            Arc::clone(&accepting),
            Arc::clone(&state),
            answer_data,
        );
        wait_accepting(&accepting).await;
        Self {
            addr,
            state,
            server,
        }
    }

    /// `http://127.0.0.1:PORT`, the client's `endpoint_url`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Creates the application, environment and profile if new, and deploys `content` of type
    /// `content_type` to it: every session gets it at its next `GetLatestConfiguration`, with
    /// `Version-Label` the profile's version (`1`, then `2`, ...).
    pub(crate) fn put(
        &self,
        application: &str,
        environment: &str,
        profile: &str,
        content_type: &str,
        content: &[u8],
    ) {
        let mut state = lock(&self.state);
        let key = ProfileKey::new(application, environment, profile);
        let version = state.deployed.get(&key).map_or(1, |last| last.version + 1);
        state.deployed.insert(
            key,
            Deployed {
                content_type: content_type.to_owned(),
                content: Bytes::copy_from_slice(content),
                version,
            },
        );
    }

    /// Answers `Next-Poll-Interval-In-Seconds: seconds` from now on, whatever the session asked
    /// for: `0` lets a client poll again at once, as a test needs to.
    pub(crate) fn set_poll_interval(&self, seconds: i64) {
        lock(&self.state).poll_interval = Some(seconds);
    }

    /// Makes every token issued so far expired, as 24 hours do: each is answered
    /// BadRequestException (`Problem: Expired`).
    pub(crate) fn expire_tokens(&self) {
        for (_, token) in lock(&self.state).tokens.values_mut() {
            *token = TokenState::Expired;
        }
    }

    /// Answers the next `count` requests with 500 InternalServerException.
    pub(crate) fn fail_next(&self, count: usize) {
        lock(&self.state).faults.fail_next = count;
    }

    /// Waits `delay` before every later answer.
    pub(crate) fn set_delay(&self, delay: Duration) {
        lock(&self.state).faults.delay = delay;
    }

    /// Every request received so far, in arrival order.
    pub(crate) fn requests(&self) -> Vec<DataRequest> {
        lock(&self.state).requests.clone()
    }

    /// How many `StartConfigurationSession` calls arrived (whatever they were answered).
    pub(crate) fn start_session_calls(&self) -> usize {
        self.calls(DataOperation::StartConfigurationSession)
    }

    /// How many `GetLatestConfiguration` calls arrived (whatever they were answered).
    pub(crate) fn get_latest_calls(&self) -> usize {
        self.calls(DataOperation::GetLatestConfiguration)
    }

    /// How many requests of `operation` arrived.
    fn calls(&self, operation: DataOperation) -> usize {
        lock(&self.state)
            .requests
            .iter()
            .filter(|request| request.operation == operation)
            .count()
    }
}

/// A restJson1 error: the `x-amzn-errortype` header and a JSON body with `Message` and the
/// shape's other members.
fn rest_json_error(status: StatusCode, error_type: &str, mut members: Value) -> Answer {
    if !members.is_object() {
        members = json!({});
    }
    Answer::json(status, &members).header("x-amzn-errortype", error_type)
}

/// A BadRequestException, `Reason: InvalidParameters`, with the problem of the parameter
/// named, if one is.
fn bad_request(message: &str, parameter: Option<(&str, &str)>) -> Answer {
    let mut members = json!({ "Message": message, "Reason": "InvalidParameters" });
    if let Some((name, problem)) = parameter {
        members["Details"] = json!({ "InvalidParameters": { name: { "Problem": problem } } });
    }
    rest_json_error(StatusCode::BAD_REQUEST, "BadRequestException", members)
}

/// The answer of AppConfigData to one request.
fn answer_data(state: &Mutex<DataState>, request: Received) -> (Answer, Duration) {
    let mut state = lock(state);
    let operation = match (&request.method, request.path.as_str()) {
        (&Method::POST, "/configurationsessions") => DataOperation::StartConfigurationSession,
        (&Method::GET, "/configuration") => DataOperation::GetLatestConfiguration,
        _ => DataOperation::Unknown,
    };
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let configuration_token = (operation == DataOperation::GetLatestConfiguration)
        .then(|| query_value(&request.query, "configuration_token").map(str::to_owned))
        .flatten();
    let answer = if state.faults.take_failure() {
        rest_json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerException",
            json!({ "Message": "Internal server error" }),
        )
    } else {
        match operation {
            DataOperation::StartConfigurationSession => start_session(&mut state, &body),
            DataOperation::GetLatestConfiguration => {
                get_latest(&mut state, configuration_token.as_deref())
            }
            DataOperation::Unknown => rest_json_error(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                json!({
                    "Message": format!("no operation at {} {}", request.method, request.path)
                }),
            ),
        }
    };
    let error_type = answer
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-amzn-errortype"))
        .map(|(_, value)| value.clone());
    state.requests.push(DataRequest {
        operation,
        method: request.method.to_string(),
        path: request.path,
        content_type: header(&request.headers, "content-type"),
        body,
        configuration_token,
        signed: header(&request.headers, "authorization")
            .is_some_and(|value| value.starts_with("AWS4-HMAC-SHA256")),
        status: answer.status.as_u16(),
        configuration_bytes: if answer.status == StatusCode::OK {
            answer.body.len()
        } else {
            0
        },
        error_type,
    });
    (answer, state.faults.delay)
}

/// `StartConfigurationSession`: a session on a deployed profile and its first token.
fn start_session(state: &mut DataState, body: &Value) -> Answer {
    let identifier = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
    };
    let (Some(application), Some(environment), Some(profile)) = (
        identifier("ApplicationIdentifier"),
        identifier("EnvironmentIdentifier"),
        identifier("ConfigurationProfileIdentifier"),
    ) else {
        return bad_request(
            "ApplicationIdentifier, EnvironmentIdentifier and ConfigurationProfileIdentifier \
             are required",
            None,
        );
    };
    let poll_interval = match body.get("RequiredMinimumPollIntervalInSeconds") {
        None | Some(Value::Null) => DEFAULT_POLL_INTERVAL_SECONDS,
        Some(value) => match value.as_i64() {
            Some(seconds) if (15..=86_400).contains(&seconds) => seconds,
            _ => {
                return bad_request(
                    "RequiredMinimumPollIntervalInSeconds must be between 15 and 86400",
                    None,
                );
            }
        },
    };
    let key = ProfileKey::new(application, environment, profile);
    if !state.deployed.contains_key(&key) {
        let resource_type = if !state
            .deployed
            .keys()
            .any(|known| known.application == application)
        {
            "Application"
        } else if !state
            .deployed
            .keys()
            .any(|known| known.application == application && known.environment == environment)
        {
            "Environment"
        } else {
            "ConfigurationProfile"
        };
        return rest_json_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            json!({
                "Message": format!("{resource_type} not found"),
                "ResourceType": resource_type,
            }),
        );
    }
    state.sessions.push(Session {
        key,
        poll_interval,
        last_version: None,
    });
    let token = state.issue_token(state.sessions.len() - 1);
    Answer::json(
        StatusCode::CREATED,
        &json!({ "InitialConfigurationToken": token }),
    )
}

/// `GetLatestConfiguration`: uses up the token, answers the next one and the configuration
/// when the session has not received this version yet.
fn get_latest(state: &mut DataState, token: Option<&str>) -> Answer {
    let Some(token) = token.filter(|token| !token.is_empty()) else {
        return bad_request(
            "configuration_token is required",
            Some(("ConfigurationToken", "Corrupted")),
        );
    };
    let session = match state.tokens.get(token) {
        None => {
            return bad_request(
                "Invalid configuration token",
                Some(("ConfigurationToken", "Corrupted")),
            );
        }
        Some((_, TokenState::Used | TokenState::Expired)) => {
            return bad_request(
                "The configuration token has expired or was already used",
                Some(("ConfigurationToken", "Expired")),
            );
        }
        Some((session, TokenState::Fresh)) => *session,
    };
    state
        .tokens
        .insert(token.to_owned(), (session, TokenState::Used));
    let next = state.issue_token(session);
    let key = state.sessions[session].key.clone();
    let poll_interval = state
        .poll_interval
        .unwrap_or(state.sessions[session].poll_interval);
    let Some(deployed) = state.deployed.get(&key).cloned() else {
        return rest_json_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            json!({ "Message": "Configuration not found", "ResourceType": "Configuration" }),
        );
    };
    let changed = state.sessions[session].last_version != Some(deployed.version);
    state.sessions[session].last_version = Some(deployed.version);
    let answer = Answer::new(
        StatusCode::OK,
        &deployed.content_type,
        if changed {
            deployed.content.clone()
        } else {
            Bytes::new()
        },
    )
    .header("Next-Poll-Configuration-Token", &next)
    .header("Next-Poll-Interval-In-Seconds", &poll_interval.to_string());
    if changed {
        answer.header("Version-Label", &deployed.version.to_string())
    } else {
        answer
    }
}

// What the three servers share.

/// One request, read whole.
#[derive(Debug)]
struct Received {
    method: Method,
    /// The path, not decoded.
    path: String,
    /// The query's pairs, decoded.
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
}

/// One answer, before it is sent.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl Answer {
    /// `body` of type `content_type`.
    fn new(status: StatusCode, content_type: &str, body: Bytes) -> Self {
        Self {
            status,
            headers: vec![("content-type".to_owned(), content_type.to_owned())],
            body,
        }
    }

    /// A `text/plain` answer.
    fn text(status: StatusCode, text: &str) -> Self {
        Self::new(status, "text/plain", Bytes::from(text.to_owned()))
    }

    /// An `application/json` answer.
    fn json(status: StatusCode, body: &Value) -> Self {
        Self::new(status, "application/json", Bytes::from(body.to_string()))
    }

    /// The answer with one more header.
    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The HTTP response, with an `x-amzn-requestid` as AWS answers have.
    fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::builder()
            .status(self.status)
            .header("x-amzn-requestid", "0b6e2c1a-7d35-4a8e-9f4c-2f1b7c9d0e31");
        for (name, value) in &self.headers {
            response = response.header(name, value);
        }
        response
            .body(Full::new(self.body))
            .expect("a valid response")
    }
}

/// A socket bound to a free port of 127.0.0.1 but not listening: a connection to it is
/// refused until [`TcpSocket::listen`].
async fn reserve_port() -> (TcpSocket, SocketAddr) {
    let socket = TcpSocket::new_v4().expect("a TCP socket");
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("bind a port of 127.0.0.1");
    let addr = socket.local_addr().expect("the bound address");
    (socket, addr)
}

/// Waits until the server task listens (it does at once when started without a delay).
async fn wait_accepting(accepting: &AtomicBool) {
    let waited = tokio::time::timeout(super::HANG_GUARD, async {
        while !accepting.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "hang guard: a fake did not start listening within {} s",
        super::HANG_GUARD.as_secs()
    );
}

/// Spawns the server: after `delay`, listens on `socket` and answers each request with
/// `answer`, after the wait `answer` gives.
fn spawn_server<S>(
    socket: TcpSocket,
    delay: Duration,
    accepting: Arc<AtomicBool>,
    state: Arc<Mutex<S>>,
    answer: fn(&Mutex<S>, Received) -> (Answer, Duration),
) -> JoinHandle<()>
where
    S: Send + 'static,
{
    tokio::spawn(async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let listener: TcpListener = socket.listen(1024).expect("listen on the reserved port");
        accepting.store(true, Ordering::SeqCst);
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let state = Arc::clone(&state);
                    connections.spawn(async move {
                        let service = service_fn(move |request| {
                            respond(Arc::clone(&state), request, answer)
                        });
                        // A client that goes away mid-request ends only its connection.
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    })
}

/// Reads the request whole, asks `answer`, waits the delay it gives, and answers.
async fn respond<S>(
    state: Arc<Mutex<S>>,
    request: Request<Incoming>,
    answer: fn(&Mutex<S>, Received) -> (Answer, Duration),
) -> Result<Response<Full<Bytes>>, Infallible>
where
    S: Send + 'static,
{
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let received = Received {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: query_pairs(parts.uri.query().unwrap_or("")),
        headers: parts.headers,
        body,
    };
    let (answer, delay) = answer(&state, received);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    Ok(answer.into_response())
}

/// The header `name`, as text.
fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
}

/// The value of the first `key` of a decoded query.
fn query_value<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
}

/// A query string's pairs, decoded as `application/x-www-form-urlencoded` (`+` is a space).
fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name, true), percent_decode(value, true))
        })
        .collect()
}

/// `text` with its `%XX` escapes decoded (and `+` as a space when `plus_is_space`); an escape
/// that is not one is kept as it is.
fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' if index + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).ok();
                match hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
                    Some(byte) => {
                        decoded.push(byte);
                        index += 3;
                    }
                    None => {
                        decoded.push(b'%');
                        index += 1;
                    }
                }
            }
            b'+' if plus_is_space => {
                decoded.push(b' ');
                index += 1;
            }
            byte => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// `text` percent-encoded for a URL's query value or path segment: every byte but the
/// unreserved characters of RFC 3986 (`A-Z a-z 0-9 - . _ ~`) as `%XX`.
pub(crate) fn url_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}
