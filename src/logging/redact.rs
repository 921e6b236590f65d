//! Hides secrets in an event before it is logged.
//!
//! With `POWERTOOLS_LOGGER_LOG_EVENT=true`, helve logs each incoming event once. A [`Redactor`]
//! first replaces the value of every key that names a secret with [`REDACTED`], at any depth,
//! so tokens, cookies and passwords never reach CloudWatch Logs.
//!
//! ```
//! use helve::logging::redact::{REDACTED, Redactor};
//!
//! let redactor = Redactor::default();
//! let event = redactor.redact_event(
//!     br#"{"headers": {"Authorization": "Bearer eyJhbGciOi", "Accept": "*/*"}}"#,
//! );
//! assert_eq!(event["headers"]["Authorization"], REDACTED);
//! assert_eq!(event["headers"]["Accept"], "*/*");
//! ```
//!
//! # Which keys are secret
//!
//! A key is secret when, lower-cased and with every `-`, `_` and `.` removed, it **contains**
//! one of the configured names, lower-cased and with the same characters removed. The default
//! names ([`DEFAULT_KEYS`]) cover:
//!
//! | name | hides, for example |
//! |---|---|
//! | `authorization` | `Authorization`, `Proxy-Authorization`, `authorizationToken` |
//! | `cookie` | `Cookie`, `Set-Cookie`, the `cookies` array of API Gateway v2 and Function URLs |
//! | `password` | `password`, `newPassword`, `DB_PASSWORD`, `db.password` |
//! | `secret` | `secret`, `client_secret`, `SecretAccessKey`, `X-Webhook-Secret` |
//! | `token` | `access_token`, `refreshToken`, `X-Amz-Security-Token`, `X-CSRF-Token` |
//! | `api_key` | `api_key`, `apiKey`, `X-Api-Key`, API Gateway's `identity.apiKey` |
//!
//! Keys that merely look alike are kept: `author`, `cookbook`, `pass`, and API Gateway's
//! `authorizer` context (whose own keys are checked one by one). Matching errs on the side of
//! hiding: `Postman-Token`, `token_use` and `tokenCount` are hidden too.
//!
//! The whole value of a secret key is replaced, whatever its type: a string, a number, a
//! boolean, an object or an array (such as a `multiValueHeaders` entry) becomes the string
//! `"[REDACTED]"`. A `null` stays `null`: it hides nothing, and shows that the value was absent.
//!
//! # HTTP events
//!
//! API Gateway (REST and HTTP APIs), Application Load Balancer and Function URL events need
//! nothing special for most of their secrets:
//!
//! - `headers` and `multiValueHeaders` are objects keyed by header name, so `Authorization`,
//!   `Cookie`, `X-Api-Key`, ... are hidden by the rule above, in any letter case.
//! - The `cookies` array (API Gateway v2, Function URLs) is hidden whole: its key contains
//!   `cookie`.
//! - `queryStringParameters` and `multiValueQueryStringParameters` are keyed by parameter name.
//!
//! Two places hold secrets inside a string, and are handled too:
//!
//! - `rawQueryString` (API Gateway v2, Function URLs): the value of each parameter whose name
//!   is secret is replaced, so `user=7&access_token=abc` is logged as
//!   `user=7&access_token=[REDACTED]`, as it is in `queryStringParameters`.
//! - A string that holds a JSON object or array, such as an HTTP `body`, an SQS message `body`
//!   or an SNS `Message`, is parsed and redacted by the same rule, then written back as a
//!   (compact) JSON string. When nothing in it is secret, it is kept byte for byte. JSON inside
//!   JSON inside a string is followed up to eight levels deep; a JSON-looking string deeper
//!   than that is replaced by a description, `<N bytes, JSON nested too deep>`.
//!
//! # What is not scanned
//!
//! A value is judged by its key, never by its content. These are logged as they came:
//!
//! - a secret under a name that is not in the list: a free-text header value, a query
//!   parameter called `sig`, ALB's `x-amzn-oidc-data` claims, the `identitySource` list of an
//!   API Gateway v2 authorizer event. Add the name to the list (`oidc-data`, `sig`,
//!   `identitysource`) when your events carry one;
//! - a body that is base64-encoded (`isBase64Encoded: true`), form-encoded
//!   (`user=ana&password=hunter2`), or JSON that does not parse (truncated, for example);
//! - a percent-encoded parameter name in `rawQueryString` (`api%5Fkey`); the decoded name in
//!   `queryStringParameters` is still hidden.
//!
//! # Events that are not JSON
//!
//! [`Redactor::redact_event`] never logs raw bytes it cannot check: a payload that is not JSON
//! is logged as `"<N bytes, not JSON>"`.
//!
//! # Choosing the names
//!
//! [`Redactor::new`] and [`Redactor::from_list`] replace the default names; to add to them,
//! chain [`DEFAULT_KEYS`] with your own:
//!
//! ```
//! use helve::logging::redact::{DEFAULT_KEYS, Redactor};
//!
//! let redactor = Redactor::new(DEFAULT_KEYS.iter().chain(&["ssn", "iban"]))?;
//! assert!(redactor.is_secret("customer_ssn"));
//! assert!(redactor.is_secret("Authorization"));
//!
//! let from_env = Redactor::from_list("authorization, cookie, ssn")?;
//! assert!(!from_env.is_secret("password"));
//! # Ok::<(), helve::logging::redact::InvalidRedactionKey>(())
//! ```
//!
//! Names are checked once, when the redactor is built; redaction itself cannot fail.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// What a secret value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// The names hidden by [`Redactor::default`].
///
/// See the [module documentation](self) for the keys each one covers.
pub const DEFAULT_KEYS: &[&str] = &[
    "authorization",
    "cookie",
    "password",
    "secret",
    "token",
    "api_key",
];

/// The longest key, once normalized, that [`Redactor::is_secret`] matches on the stack as bytes;
/// longer or non-ASCII keys take a slower path that still does not allocate.
const ASCII_KEY_CAPACITY: usize = 64;

/// How many levels of JSON held in a string are parsed and redacted; deeper ones are replaced.
const MAX_EMBEDDED_DEPTH: usize = 8;

/// Hides the values of secret keys in an event before it is logged.
///
/// Build it once, when the function starts; it is cheap to clone.
#[derive(Debug, Clone)]
pub struct Redactor {
    /// The names, lower-cased, without `-`, `_` and `.`; never empty.
    names: Arc<[Box<str>]>,
}

impl Default for Redactor {
    /// Hides the [`DEFAULT_KEYS`]: `authorization`, `cookie`, `password`, `secret`, `token`
    /// and `api_key`, and every key that contains one of them.
    fn default() -> Self {
        Self {
            names: DEFAULT_KEYS.iter().map(|name| normalize(name)).collect(),
        }
    }
}

impl Redactor {
    /// A redactor that hides the given names instead of the [`DEFAULT_KEYS`].
    ///
    /// Each name is trimmed, and must keep at least one character once `-`, `_` and `.` are
    /// removed (a name with none would hide every value). The list must not be empty.
    pub fn new<I, S>(names: I) -> Result<Self, InvalidRedactionKey>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut checked = Vec::new();
        for (index, name) in names.into_iter().enumerate() {
            let name = name.as_ref().trim();
            let normalized = normalize(name);
            if normalized.is_empty() {
                let problem = if name.is_empty() {
                    Problem::Empty
                } else {
                    Problem::OnlySeparators
                };
                return Err(InvalidRedactionKey {
                    key: name.to_owned(),
                    position: Some(index + 1),
                    problem,
                });
            }
            checked.push(normalized);
        }
        if checked.is_empty() {
            return Err(InvalidRedactionKey {
                key: String::new(),
                position: None,
                problem: Problem::NoKeys,
            });
        }
        Ok(Self {
            names: checked.into(),
        })
    }

    /// A redactor that hides the names of a comma-separated list, as an environment variable
    /// would give it: `"authorization, cookie, ssn"`.
    ///
    /// Spaces around names are ignored; an empty entry (`"a,,b"`, a trailing comma, or an
    /// empty string) is an error naming its position.
    pub fn from_list(list: &str) -> Result<Self, InvalidRedactionKey> {
        Self::new(list.split(','))
    }

    /// Whether the value of `key` is hidden: `key`, lower-cased and without `-`, `_` and `.`,
    /// contains one of the names.
    ///
    /// Allocates nothing.
    pub fn is_secret(&self, key: &str) -> bool {
        let mut buffer = [0; ASCII_KEY_CAPACITY];
        if let Some(key) = normalize_ascii(key, &mut buffer) {
            return self.names.iter().any(|name| contains(key, name.as_bytes()));
        }
        // Non-ASCII or very long keys: compare the characters as they come, one start at a time.
        let mut rest = normalized_chars(key);
        loop {
            let mut after = rest.clone();
            let Some(first) = after.next() else {
                return false;
            };
            for name in self.names.iter() {
                let mut name_chars = name.chars();
                if name_chars.next() == Some(first)
                    && name_chars.all({
                        let mut key_chars = after.clone();
                        move |c| key_chars.next() == Some(c)
                    })
                {
                    return true;
                }
            }
            rest = after;
        }
    }

    /// Replaces, in place, the value of every secret key at any depth (objects in arrays in
    /// objects...) with [`REDACTED`], as described in the [module documentation](self).
    ///
    /// Allocates only for what it replaces, and to parse strings that hold JSON.
    pub fn redact(&self, value: &mut Value) {
        self.redact_value(value, 0);
    }

    /// Parses a raw event and redacts it, ready to be logged.
    ///
    /// A payload that is not JSON is never returned as it came, since it cannot be checked:
    /// it becomes the string `"<N bytes, not JSON>"`.
    pub fn redact_event(&self, payload: &[u8]) -> Value {
        let json = payload.strip_prefix(UTF8_BOM).unwrap_or(payload);
        match serde_json::from_slice::<Value>(json) {
            Ok(mut event) => {
                self.redact(&mut event);
                event
            }
            Err(_) => Value::String(format!("<{} bytes, not JSON>", payload.len())),
        }
    }

    /// Redacts `value`, `depth` levels of JSON-in-a-string down; true when anything changed.
    fn redact_value(&self, value: &mut Value, depth: usize) -> bool {
        match value {
            Value::Object(map) => {
                let mut changed = false;
                for (key, item) in map.iter_mut() {
                    if self.is_secret(key) {
                        if !item.is_null() {
                            *item = Value::String(REDACTED.to_owned());
                            changed = true;
                        }
                    } else if let Some(query) = item.as_str().filter(|_| is_raw_query_string(key)) {
                        if let Some(redacted) = self.redact_query(query) {
                            *item = Value::String(redacted);
                            changed = true;
                        }
                    } else {
                        changed |= self.redact_value(item, depth);
                    }
                }
                changed
            }
            Value::Array(items) => items.iter_mut().fold(false, |changed, item| {
                self.redact_value(item, depth) | changed
            }),
            Value::String(text) => redact_presigned_url(text) | self.redact_embedded(text, depth),
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
        }
    }

    /// Redacts a string that holds a JSON object or array; true when it was rewritten.
    fn redact_embedded(&self, text: &mut String, depth: usize) -> bool {
        // A byte order mark before the JSON (an HTTP body saved by some editors) hides
        // nothing: it is skipped, as decoding skips it.
        let json = text
            .trim_start()
            .trim_start_matches('\u{feff}')
            .trim_start();
        if !json.starts_with(['{', '[']) || text == REDACTED {
            return false;
        }
        if depth >= MAX_EMBEDDED_DEPTH {
            *text = format!("<{} bytes, JSON nested too deep>", text.len());
            return true;
        }
        let Ok(mut inner) = serde_json::from_str::<Value>(json) else {
            // It looks like JSON but does not parse, so its keys cannot be checked: hide it
            // rather than risk a secret.
            *text = format!("<{} bytes, JSON that does not parse>", text.len());
            return true;
        };
        if !self.redact_value(&mut inner, depth + 1) {
            return false;
        }
        // Serializing a `Value` cannot fail (its keys are strings); hide it all if it ever did.
        *text = serde_json::to_string(&inner).unwrap_or_else(|_| REDACTED.to_owned());
        true
    }

    /// The query string with the values of secret parameters replaced, or `None` when it has
    /// none.
    fn redact_query(&self, query: &str) -> Option<String> {
        let is_secret_pair = |pair: &str| {
            pair.split_once('=')
                .is_some_and(|(name, _)| self.is_secret(name))
        };
        if !query.split('&').any(is_secret_pair) {
            return None;
        }
        let mut redacted = String::with_capacity(query.len());
        for (index, pair) in query.split('&').enumerate() {
            if index > 0 {
                redacted.push('&');
            }
            match pair.split_once('=') {
                Some((name, _)) if self.is_secret(name) => {
                    redacted.push_str(name);
                    redacted.push('=');
                    redacted.push_str(REDACTED);
                }
                _ => redacted.push_str(pair),
            }
        }
        Some(redacted)
    }
}

/// The query parameters that sign a pre-signed URL (SigV4's and S3's older form): whoever
/// reads them can use the URL (answer a CloudFormation stack, read an S3 object).
const PRESIGNING_PARAMETERS: [&str; 5] = [
    "x-amz-signature",
    "x-amz-security-token",
    "x-amz-credential",
    "signature",
    "awsaccesskeyid",
];

/// Hides the signing parameters of a pre-signed `http(s)://` URL (a CloudFormation
/// `ResponseURL`, an S3 pre-signed URL); true when it was rewritten. The rest of the URL (its
/// host, path, expiry) stays, to tell which it was.
fn redact_presigned_url(text: &mut String) -> bool {
    let is_url = text.starts_with("https://") || text.starts_with("http://");
    let Some((base, query)) = text.split_once('?').filter(|_| is_url) else {
        return false;
    };
    let signing = |pair: &str| {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        PRESIGNING_PARAMETERS
            .iter()
            .any(|parameter| name.eq_ignore_ascii_case(parameter))
    };
    if !query.split('&').any(signing) {
        return false;
    }
    let mut redacted = String::with_capacity(text.len());
    redacted.push_str(base);
    redacted.push('?');
    for (index, pair) in query.split('&').enumerate() {
        if index > 0 {
            redacted.push('&');
        }
        match pair.split_once('=') {
            Some((name, _)) if signing(pair) => {
                redacted.push_str(name);
                redacted.push('=');
                redacted.push_str(REDACTED);
            }
            _ => redacted.push_str(pair),
        }
    }
    *text = redacted;
    true
}

/// The UTF-8 byte order mark, which some writers put before JSON.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A redaction name that cannot be used: empty, only separators, or an empty list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRedactionKey {
    key: String,
    position: Option<usize>,
    problem: Problem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    Empty,
    OnlySeparators,
    NoKeys,
}

impl InvalidRedactionKey {
    /// The offending name as given, trimmed; empty for an empty name or an empty list.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The offending name's position in the list, from 1; `None` when the list is empty.
    pub fn position(&self) -> Option<usize> {
        self.position
    }
}

impl fmt::Display for InvalidRedactionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let position = self.position.unwrap_or(0);
        match self.problem {
            Problem::Empty => write!(f, "redaction key {position} is empty"),
            Problem::OnlySeparators => write!(
                f,
                "redaction key {position} `{}` is only separators, which matching ignores; \
                 it would hide every value",
                self.key
            ),
            Problem::NoKeys => f.write_str(
                "the redaction key list is empty; name at least one key, or keep the default",
            ),
        }
    }
}

impl StdError for InvalidRedactionKey {}

/// The characters of `key` that matching compares: lower-cased, without `-`, `_` and `.`.
fn normalized_chars(key: &str) -> impl Iterator<Item = char> + Clone + '_ {
    key.chars()
        .filter(|c| !matches!(c, '-' | '_' | '.'))
        .flat_map(char::to_lowercase)
}

/// Writes the matching form of an ASCII `key` into `buffer`; `None` when the key is not ASCII
/// or does not fit.
fn normalize_ascii<'b>(key: &str, buffer: &'b mut [u8; ASCII_KEY_CAPACITY]) -> Option<&'b [u8]> {
    if !key.is_ascii() {
        return None;
    }
    let mut len = 0;
    for byte in key.bytes().filter(|b| !matches!(b, b'-' | b'_' | b'.')) {
        *buffer.get_mut(len)? = byte.to_ascii_lowercase();
        len += 1;
    }
    buffer.get(..len)
}

/// Whether `needle` occurs in `haystack`.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    // Names are never empty, but an empty needle is in anything.
    let Some((first, rest)) = needle.split_first() else {
        return true;
    };
    let mut tails = haystack;
    while let Some((byte, tail)) = tails.split_first() {
        if byte == first && tail.starts_with(rest) {
            return true;
        }
        tails = tail;
    }
    false
}

/// A configured name in the form [`Redactor::is_secret`] compares.
fn normalize(name: &str) -> Box<str> {
    normalized_chars(name).collect::<String>().into_boxed_str()
}

/// Whether `key` is API Gateway v2's or a Function URL's `rawQueryString`.
fn is_raw_query_string(key: &str) -> bool {
    key.eq_ignore_ascii_case("rawQueryString")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Redacts `payload` with the default names, and returns the event and its log text.
    fn log(payload: &str) -> (Value, String) {
        log_with(&Redactor::default(), payload)
    }

    fn log_with(redactor: &Redactor, payload: &str) -> (Value, String) {
        let event = redactor.redact_event(payload.as_bytes());
        let text = serde_json::to_string(&event).unwrap();
        (event, text)
    }

    /// Fails when any secret appears anywhere in the logged text.
    #[track_caller]
    fn assert_hidden(text: &str, secrets: &[&str]) {
        for secret in secrets {
            assert!(!text.contains(secret), "`{secret}` leaked into {text}");
        }
    }

    #[test]
    fn a_pre_signed_url_is_logged_without_what_signs_it() {
        let event = json!({
            "RequestType": "Create",
            "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws/abc?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261203T120000Z&X-Amz-SignedHeaders=host&X-Amz-Expires=7200&X-Amz-Credential=AKIAEXAMPLE%2F20261203%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Security-Token=FwoGZXIvYXdzEXAMPLETOKEN&X-Amz-Signature=0123abcdSIGNATURE",
            "Download": "https://bucket.s3.amazonaws.com/report.csv?AWSAccessKeyId=AKIAOLDSTYLE&Expires=1796300000&Signature=oldStyleSignature%3D",
            "Page": "https://example.com/orders?page=2",
        });
        let (logged, text) = log(&event.to_string());
        assert_hidden(
            &text,
            &[
                "0123abcdSIGNATURE",
                "FwoGZXIvYXdzEXAMPLETOKEN",
                "AKIAEXAMPLE",
                "AKIAOLDSTYLE",
                "oldStyleSignature",
            ],
        );
        let url = logged["ResponseURL"].as_str().unwrap();
        assert!(
            url.starts_with("https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws/abc?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261203T120000Z"),
            "{url}"
        );
        assert!(url.contains("X-Amz-Expires=7200"), "{url}");
        assert_eq!(logged["Page"], "https://example.com/orders?page=2");
    }

    #[test]
    fn a_json_body_after_a_byte_order_mark_is_redacted_like_any_other() {
        let event = json!({
            "body": "\u{feff}{\"password\": \"bom-hunter2\", \"sku\": \"A-1\"}",
        });
        let (logged, text) = log(&event.to_string());
        assert_hidden(&text, &["bom-hunter2"]);
        assert!(text.contains("A-1"), "{text}");
        assert!(logged["body"].as_str().unwrap().contains(REDACTED));
        // A whole event after a byte order mark, too.
        let (_, text) = log("\u{feff}{\"token\": \"bom-token-1\"}");
        assert_hidden(&text, &["bom-token-1"]);
        assert!(text.contains(REDACTED), "{text}");
    }

    /// API Gateway REST API (v1) proxy event, from aws_lambda_events' fixtures, with secrets added.
    const API_GATEWAY_V1: &str = r#"{
        "resource": "/{proxy+}",
        "path": "/hello/world",
        "httpMethod": "POST",
        "headers": {
            "Accept": "*/*",
            "Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.v1-header-jwt",
            "Content-Type": "application/json",
            "Cookie": "session=v1-session-cookie; theme=dark",
            "headerName": "headerValue",
            "Host": "gy415nuibc.execute-api.us-east-1.amazonaws.com",
            "Postman-Token": "9f583ef0-ed83-4a38-aef3-eb9ce3f7a57f",
            "User-Agent": "PostmanRuntime/2.4.5",
            "X-Api-Key": "v1-header-api-key",
            "X-Forwarded-For": "54.240.196.186, 54.182.214.83"
        },
        "multiValueHeaders": {
            "Accept": ["*/*"],
            "Authorization": ["Bearer eyJhbGciOiJIUzI1NiJ9.v1-header-jwt"],
            "Content-Type": ["application/json"],
            "Cookie": ["session=v1-session-cookie; theme=dark"],
            "headerName": ["headerValue"],
            "Host": ["gy415nuibc.execute-api.us-east-1.amazonaws.com"],
            "Postman-Token": ["9f583ef0-ed83-4a38-aef3-eb9ce3f7a57f"],
            "User-Agent": ["PostmanRuntime/2.4.5"],
            "X-Api-Key": ["v1-header-api-key"],
            "X-Forwarded-For": ["54.240.196.186, 54.182.214.83"]
        },
        "queryStringParameters": {"name": "me", "token": "v1-query-token"},
        "multiValueQueryStringParameters": {"name": ["me"], "token": ["v1-query-token"]},
        "pathParameters": {"proxy": "hello/world"},
        "stageVariables": {"stageVariableName": "stageVariableValue"},
        "requestContext": {
            "accountId": "12345678912",
            "resourceId": "roq9wj",
            "path": "/hello/world",
            "stage": "testStage",
            "domainName": "gy415nuibc.execute-api.us-east-2.amazonaws.com",
            "domainPrefix": "y0ne18dixk",
            "requestId": "deef4878-7910-11e6-8f14-25afc3e9ae33",
            "protocol": "HTTP/1.1",
            "identity": {
                "cognitoIdentityPoolId": "theCognitoIdentityPoolId",
                "accountId": "theAccountId",
                "cognitoIdentityId": "theCognitoIdentityId",
                "caller": "theCaller",
                "apiKey": "v1-identity-api-key",
                "apiKeyId": "theApiKeyId",
                "accessKey": "ANEXAMPLEOFACCESSKEY",
                "sourceIp": "192.168.196.186",
                "cognitoAuthenticationType": "theCognitoAuthenticationType",
                "cognitoAuthenticationProvider": "theCognitoAuthenticationProvider",
                "userArn": "theUserArn",
                "userAgent": "PostmanRuntime/2.4.5",
                "user": "theUser"
            },
            "authorizer": {"principalId": "admin", "clientId": 1, "clientName": "Exata"},
            "resourcePath": "/{proxy+}",
            "httpMethod": "POST",
            "requestTime": "15/May/2020:06:01:09 +0000",
            "requestTimeEpoch": 1589522469693,
            "apiId": "gy415nuibc"
        },
        "body": "{\r\n\t\"username\": \"ana\",\r\n\t\"password\": \"v1-body-password\"\r\n}",
        "isBase64Encoded": false
    }"#;

    /// API Gateway HTTP API (v2) event with a JWT authorizer, from aws_lambda_events'
    /// fixtures, with secrets added.
    const API_GATEWAY_V2: &str = r#"{
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/my/path",
        "rawQueryString": "parameter1=value1&parameter1=value2&access_token=v2-raw-query-token",
        "cookies": ["session=v2-session-cookie", "theme=dark"],
        "headers": {
            "authorization": "Bearer v2-header-jwt",
            "content-type": "application/json",
            "cookie": "session=v2-session-cookie; theme=dark",
            "header1": "value1",
            "x-api-key": "v2-header-api-key"
        },
        "queryStringParameters": {
            "parameter1": "value1,value2",
            "access_token": "v2-raw-query-token"
        },
        "pathParameters": {"proxy": "hello/world"},
        "requestContext": {
            "routeKey": "$default",
            "accountId": "123456789012",
            "stage": "$default",
            "requestId": "id",
            "authorizer": {
                "jwt": {
                    "claims": {"sub": "ana", "token_use": "access"},
                    "scopes": ["scope1", "scope2"]
                }
            },
            "apiId": "api-id",
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "id",
            "time": "12/Mar/2020:19:03:58+0000",
            "timeEpoch": 1583348638390,
            "http": {
                "method": "POST",
                "path": "/my/path",
                "protocol": "HTTP/1.1",
                "sourceIp": "IP",
                "userAgent": "agent"
            }
        },
        "stageVariables": {"stageVariable1": "value1"},
        "body": "{\"user\":{\"name\":\"ana\",\"password\":\"v2-body-password\"},\"remember\":true}",
        "isBase64Encoded": false
    }"#;

    /// ALB event with multi-value headers, from aws_lambda_events' fixtures, with secrets added.
    const ALB_MULTI_VALUE: &str = r#"{
        "requestContext": {
            "elb": {
                "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lambda-target/abcdefgh"
            }
        },
        "httpMethod": "GET",
        "path": "/",
        "multiValueQueryStringParameters": {"key": ["hello"], "api_key": ["alb-query-api-key"]},
        "multiValueHeaders": {
            "accept": ["*/*"],
            "authorization": ["Basic YWxiLWJhc2ljLWNyZWRz"],
            "connection": ["keep-alive"],
            "cookie": ["AWSELBAuthSessionCookie-0=alb-auth-cookie"],
            "host": ["lambda-test-alb-1234567.us-east-1.elb.amazonaws.com"],
            "user-agent": ["curl/7.54.0"],
            "x-amzn-oidc-accesstoken": ["alb-oidc-access-token"],
            "x-amzn-trace-id": ["Root=1-5c34e7d4-00ca239424b68028d4c56d68"],
            "x-forwarded-for": ["72.21.198.67"],
            "x-forwarded-port": ["80"],
            "x-forwarded-proto": ["http"],
            "x-imforwards": ["20"],
            "x-myheader": ["123"]
        },
        "body": "Some text",
        "isBase64Encoded": false
    }"#;

    /// ALB event with single-value headers, from aws_lambda_events' fixtures, with secrets added.
    const ALB_HEADERS: &str = r#"{
        "requestContext": {
            "elb": {
                "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lambda-target/abcdefg"
            }
        },
        "httpMethod": "GET",
        "path": "/",
        "queryStringParameters": {"key": "hello"},
        "headers": {
            "accept": "*/*",
            "authorization": "Basic YWxiLWJhc2ljLWNyZWRz",
            "connection": "keep-alive",
            "host": "lambda-test-alb-1334523864.us-east-1.elb.amazonaws.com",
            "user-agent": "curl/7.54.0",
            "x-amzn-trace-id": "Root=1-5c34e93e-4dea0086f9763ac0667b115a",
            "x-forwarded-for": "25.12.198.67",
            "x-forwarded-port": "80",
            "x-forwarded-proto": "http",
            "x-imforwards": "20",
            "x-myheader": "123"
        },
        "isBase64Encoded": false
    }"#;

    /// Function URL event, from lambda_http's test data, with secrets added.
    const FUNCTION_URL: &str = r#"{
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/my/path",
        "rawQueryString": "parameter1=value1&apiKey=url-raw-query-api-key&parameter2=value",
        "cookies": ["test=url-cookie-value"],
        "headers": {
            "x-amzn-tls-cipher-suite": "ECDHE-RSA-AES128-GCM-SHA256",
            "x-amzn-tls-version": "TLSv1.2",
            "x-amzn-trace-id": "Root=1-5eb33c07-de25b420912dee103a5db434",
            "cookie": "test=url-cookie-value",
            "x-forwarded-proto": "https",
            "host": "id.lambda-url.eu-west-2.on.aws",
            "x-forwarded-port": "443",
            "x-forwarded-for": "65.78.31.245",
            "accept": "*/*",
            "user-agent": "curl/7.68.0",
            "x-amz-security-token": "url-security-token"
        },
        "queryStringParameters": {
            "parameter1": "value1",
            "apiKey": "url-raw-query-api-key",
            "parameter2": "value"
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "xxx",
            "authorizer": {
                "iam": {
                    "accessKey": "AKIA...",
                    "accountId": "111122223333",
                    "callerId": "AIDACKCEVSQ6C2EXAMPLE",
                    "userArn": "arn:aws:iam::111122223333:user/example-user",
                    "userId": "AIDACOSFODNN7EXAMPLE2"
                }
            },
            "domainName": "id.lambda-url.eu-west-2.on.aws",
            "domainPrefix": "id",
            "http": {
                "method": "GET",
                "path": "/my/path",
                "protocol": "HTTP/1.1",
                "sourceIp": "65.78.31.245",
                "userAgent": "curl/7.68.0"
            },
            "requestId": "MIZRNhJtIAMEMDw=",
            "routeKey": "$default",
            "stage": "$default",
            "time": "11/Jan/2023:11:45:34 +0000",
            "timeEpoch": 1673437534837
        },
        "isBase64Encoded": false
    }"#;

    #[test]
    fn an_http_api_event_is_logged_exactly_as_it_came_with_each_secret_replaced() {
        let (mut event, text) = log(API_GATEWAY_V2);
        assert_hidden(
            &text,
            &[
                "v2-raw-query-token",
                "v2-session-cookie",
                "v2-header-jwt",
                "v2-header-api-key",
                "v2-body-password",
            ],
        );

        // The body is a JSON string again; compare what it holds, whatever the key order.
        let body = event["body"].take();
        let body: Value = serde_json::from_str(body.as_str().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"user": {"name": "ana", "password": "[REDACTED]"}, "remember": true})
        );
        assert_eq!(
            event,
            json!({
                "version": "2.0",
                "routeKey": "$default",
                "rawPath": "/my/path",
                "rawQueryString": "parameter1=value1&parameter1=value2&access_token=[REDACTED]",
                "cookies": "[REDACTED]",
                "headers": {
                    "authorization": "[REDACTED]",
                    "content-type": "application/json",
                    "cookie": "[REDACTED]",
                    "header1": "value1",
                    "x-api-key": "[REDACTED]"
                },
                "queryStringParameters": {
                    "parameter1": "value1,value2",
                    "access_token": "[REDACTED]"
                },
                "pathParameters": {"proxy": "hello/world"},
                "requestContext": {
                    "routeKey": "$default",
                    "accountId": "123456789012",
                    "stage": "$default",
                    "requestId": "id",
                    "authorizer": {
                        "jwt": {
                            "claims": {"sub": "ana", "token_use": "[REDACTED]"},
                            "scopes": ["scope1", "scope2"]
                        }
                    },
                    "apiId": "api-id",
                    "domainName": "id.execute-api.us-east-1.amazonaws.com",
                    "domainPrefix": "id",
                    "time": "12/Mar/2020:19:03:58+0000",
                    "timeEpoch": 1583348638390_u64,
                    "http": {
                        "method": "POST",
                        "path": "/my/path",
                        "protocol": "HTTP/1.1",
                        "sourceIp": "IP",
                        "userAgent": "agent"
                    }
                },
                "stageVariables": {"stageVariable1": "value1"},
                "body": null,
                "isBase64Encoded": false
            })
        );
    }

    #[test]
    fn an_authorization_header_never_reaches_the_logs() {
        let (event, text) = log(API_GATEWAY_V1);
        assert_hidden(
            &text,
            &[
                "v1-header-jwt",
                "eyJhbGciOiJIUzI1NiJ9",
                "v1-session-cookie",
                "v1-header-api-key",
                "v1-identity-api-key",
                "v1-query-token",
                "v1-body-password",
            ],
        );
        assert_eq!(event["headers"]["Authorization"], REDACTED);
        assert_eq!(event["multiValueHeaders"]["Authorization"], REDACTED);
        assert_eq!(event["headers"]["Cookie"], REDACTED);
        assert_eq!(event["headers"]["X-Api-Key"], REDACTED);
        assert_eq!(event["requestContext"]["identity"]["apiKey"], REDACTED);
        // What is not secret is still there to debug with.
        assert_eq!(event["headers"]["User-Agent"], "PostmanRuntime/2.4.5");
        assert_eq!(event["multiValueHeaders"]["Accept"], json!(["*/*"]));
        assert_eq!(
            event["requestContext"]["authorizer"]["principalId"],
            "admin"
        );
        assert_eq!(
            event["requestContext"]["identity"]["accessKey"],
            "ANEXAMPLEOFACCESSKEY"
        );
        assert_eq!(event["queryStringParameters"]["name"], "me");
    }

    #[test]
    fn a_password_in_a_json_request_body_never_reaches_the_logs() {
        let (event, text) = log(API_GATEWAY_V1);
        assert_hidden(&text, &["v1-body-password"]);
        let body: Value = serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
        assert_eq!(body, json!({"username": "ana", "password": "[REDACTED]"}));
    }

    #[test]
    fn a_json_body_without_secrets_is_logged_byte_for_byte() {
        let payload = r#"{"body": "{\r\n\t\"a\": 1,\r\n\t\"items\": [{\"sku\": \"x\"}]\r\n}"}"#;
        let (event, _) = log(payload);
        assert_eq!(
            event["body"],
            "{\r\n\t\"a\": 1,\r\n\t\"items\": [{\"sku\": \"x\"}]\r\n}"
        );
    }

    #[test]
    fn http_api_cookies_never_reach_the_logs() {
        let (event, text) = log(API_GATEWAY_V2);
        assert_hidden(&text, &["v2-session-cookie", "theme=dark"]);
        assert_eq!(event["cookies"], REDACTED);
        assert_eq!(event["headers"]["cookie"], REDACTED);
    }

    #[test]
    fn a_secret_query_parameter_is_hidden_in_the_raw_query_string_too() {
        let (event, text) = log(API_GATEWAY_V2);
        assert_hidden(&text, &["v2-raw-query-token"]);
        assert_eq!(
            event["rawQueryString"],
            "parameter1=value1&parameter1=value2&access_token=[REDACTED]"
        );
        assert_eq!(
            event["queryStringParameters"]["parameter1"],
            "value1,value2"
        );
    }

    #[test]
    fn a_raw_query_string_without_secrets_is_logged_as_it_came() {
        let payload = r#"{"rawQueryString": "a=1&b&=c&author=ana&&d=x%3Dy"}"#;
        let (event, _) = log(payload);
        assert_eq!(event["rawQueryString"], "a=1&b&=c&author=ana&&d=x%3Dy");
    }

    #[test]
    fn alb_multi_value_headers_never_show_credentials() {
        let (event, text) = log(ALB_MULTI_VALUE);
        assert_hidden(
            &text,
            &[
                "YWxiLWJhc2ljLWNyZWRz",
                "alb-auth-cookie",
                "alb-oidc-access-token",
                "alb-query-api-key",
            ],
        );
        let headers = &event["multiValueHeaders"];
        assert_eq!(headers["authorization"], REDACTED);
        assert_eq!(headers["cookie"], REDACTED);
        assert_eq!(headers["x-amzn-oidc-accesstoken"], REDACTED);
        assert_eq!(
            headers["x-amzn-trace-id"],
            json!(["Root=1-5c34e7d4-00ca239424b68028d4c56d68"])
        );
        assert_eq!(
            event["multiValueQueryStringParameters"]["api_key"],
            REDACTED
        );
        assert_eq!(event["body"], "Some text");
    }

    #[test]
    fn alb_headers_never_show_credentials() {
        let (event, text) = log(ALB_HEADERS);
        assert_hidden(&text, &["YWxiLWJhc2ljLWNyZWRz"]);
        assert_eq!(event["headers"]["authorization"], REDACTED);
        assert_eq!(event["headers"]["x-myheader"], "123");
    }

    #[test]
    fn a_function_url_event_never_shows_cookies_tokens_or_api_keys() {
        let (event, text) = log(FUNCTION_URL);
        assert_hidden(
            &text,
            &[
                "url-cookie-value",
                "url-security-token",
                "url-raw-query-api-key",
            ],
        );
        assert_eq!(event["cookies"], REDACTED);
        assert_eq!(event["headers"]["cookie"], REDACTED);
        assert_eq!(event["headers"]["x-amz-security-token"], REDACTED);
        assert_eq!(
            event["rawQueryString"],
            "parameter1=value1&apiKey=[REDACTED]&parameter2=value"
        );
        assert_eq!(
            event["requestContext"]["authorizer"]["iam"]["userArn"],
            "arn:aws:iam::111122223333:user/example-user"
        );
    }

    #[test]
    fn a_secret_is_hidden_at_any_depth() {
        let payload = r#"{
            "orders": [
                {"id": 1, "payment": {"cards": [{"last4": "4242", "cvv_token": "deep-token-1"}]}},
                [[{"db": {"password": "deep-password-2"}}]],
                {"nested": [{"nested": [{"client_secret": "deep-secret-3"}]}]}
            ]
        }"#;
        let (event, text) = log(payload);
        assert_hidden(&text, &["deep-token-1", "deep-password-2", "deep-secret-3"]);
        assert_eq!(
            event,
            json!({
                "orders": [
                    {"id": 1, "payment": {"cards": [{"last4": "4242", "cvv_token": "[REDACTED]"}]}},
                    [[{"db": {"password": "[REDACTED]"}}]],
                    {"nested": [{"nested": [{"client_secret": "[REDACTED]"}]}]}
                ]
            })
        );
    }

    #[test]
    fn a_secret_key_hides_its_whole_value_whatever_its_type() {
        let payload = r#"{
            "pin_password": 482913,
            "token": true,
            "secret": {"kind": "db", "value": "object-secret-value"},
            "api_keys": ["array-key-1", {"key": "array-key-2"}],
            "authorization": 1.5e3,
            "password_hint": null
        }"#;
        let (event, text) = log(payload);
        assert_hidden(
            &text,
            &[
                "482913",
                "object-secret-value",
                "array-key-1",
                "array-key-2",
                "1500",
            ],
        );
        assert_eq!(
            event,
            json!({
                "pin_password": "[REDACTED]",
                "token": "[REDACTED]",
                "secret": "[REDACTED]",
                "api_keys": "[REDACTED]",
                "authorization": "[REDACTED]",
                "password_hint": null
            })
        );
    }

    #[test]
    fn json_inside_json_inside_a_string_is_redacted_at_every_level() {
        // An SQS message whose body is an SNS notification whose Message is JSON.
        let message = json!({"order": 7, "password": "sns-inner-password"}).to_string();
        let notification = json!({"Type": "Notification", "Message": message}).to_string();
        let event = json!({"Records": [{"messageId": "m-1", "body": notification}]});
        let (event, text) = log(&event.to_string());
        assert_hidden(&text, &["sns-inner-password"]);

        let body: Value =
            serde_json::from_str(event["Records"][0]["body"].as_str().unwrap()).unwrap();
        let message: Value = serde_json::from_str(body["Message"].as_str().unwrap()).unwrap();
        assert_eq!(message, json!({"order": 7, "password": "[REDACTED]"}));
        assert_eq!(event["Records"][0]["messageId"], "m-1");
    }

    #[test]
    fn json_nested_in_strings_too_deep_to_check_is_not_logged() {
        let mut document = json!({"password": "too-deep-password"});
        for _ in 0..MAX_EMBEDDED_DEPTH + 2 {
            document = json!({"body": document.to_string()});
        }
        let (_, text) = log(&document.to_string());
        assert_hidden(&text, &["too-deep-password"]);
        assert!(text.contains("JSON nested too deep>"), "{text}");
    }

    #[test]
    fn a_value_is_judged_by_its_key_not_by_its_content() {
        // Documented: free text under a name that is not secret is logged as it came.
        let payload = r#"{"headers": {"x-note": "password=not-scanned"}, "body": "token=abc"}"#;
        let (event, _) = log(payload);
        assert_eq!(event["headers"]["x-note"], "password=not-scanned");
        assert_eq!(event["body"], "token=abc");
    }

    #[test]
    fn an_event_that_is_not_json_is_described_not_logged() {
        let redactor = Redactor::default();
        assert_eq!(
            redactor.redact_event(b"password=hunter2&user=ana"),
            json!("<25 bytes, not JSON>")
        );
        assert_eq!(
            redactor.redact_event(br#"{"password": "hunter2""#),
            json!("<22 bytes, not JSON>")
        );
        assert_eq!(
            redactor.redact_event(&[0xff, 0xfe, b'{']),
            json!("<3 bytes, not JSON>")
        );
        assert_eq!(redactor.redact_event(b""), json!("<0 bytes, not JSON>"));
    }

    #[test]
    fn a_body_that_looks_like_json_but_does_not_parse_is_hidden() {
        let redactor = Redactor::default();
        let event = br#"{"body": "{\"password\":\"hunter2\",\"n\":1e400}"}"#;
        let redacted = redactor.redact_event(event);
        assert_eq!(
            redacted,
            json!({"body": "<32 bytes, JSON that does not parse>"})
        );
        assert!(!redacted.to_string().contains("hunter2"));
    }

    #[test]
    fn an_event_that_is_a_bare_json_value_is_logged_as_it_is() {
        let redactor = Redactor::default();
        assert_eq!(redactor.redact_event(b"42"), json!(42));
        assert_eq!(redactor.redact_event(br#""hello""#), json!("hello"));
        assert_eq!(redactor.redact_event(b"null"), json!(null));
        assert_eq!(
            redactor.redact_event(br#"[{"token": "x"}, "[REDACTED]"]"#),
            json!([{"token": "[REDACTED]"}, "[REDACTED]"])
        );
    }

    #[test]
    fn secret_keys_are_matched_whatever_their_case_and_separators() {
        let redactor = Redactor::default();
        for key in [
            "Authorization",
            "Proxy-Authorization",
            "authorizationToken",
            "X-Api-Key",
            "x-api-key",
            "api_key",
            "apiKey",
            "API.KEY",
            "Cookie",
            "Set-Cookie",
            "cookies",
            "password",
            "DB_PASSWORD",
            "db.password",
            "client_secret",
            "SecretAccessKey",
            "access_token",
            "X-Amz-Security-Token",
            "refreshToken",
            "TOKEN",
        ] {
            assert!(redactor.is_secret(key), "`{key}` should be secret");
        }
    }

    #[test]
    fn keys_that_only_look_like_secrets_stay_visible() {
        let redactor = Redactor::default();
        for key in [
            "author",
            "cookbook",
            "authorizer",
            "pass",
            "api",
            "key",
            "accessKey",
            "toke",
            "",
            "-_.",
            "x-amzn-trace-id",
        ] {
            assert!(!redactor.is_secret(key), "`{key}` should not be secret");
        }
    }

    #[test]
    fn long_keys_are_matched_like_short_ones() {
        let redactor = Redactor::default();
        let padding = "x-".repeat(ASCII_KEY_CAPACITY);
        assert!(redactor.is_secret(&format!("{padding}Api-Key")));
        assert!(redactor.is_secret(&format!("Api-Key{padding}")));
        assert!(!redactor.is_secret(&format!("{padding}Api")));
        let exactly_full = format!("{}token", "a".repeat(ASCII_KEY_CAPACITY - 5));
        assert!(redactor.is_secret(&exactly_full));
        assert!(!redactor.is_secret(&format!("{exactly_full}a").replace("token", "tokn")));
    }

    #[test]
    fn matching_handles_non_ascii_keys() {
        let redactor = Redactor::new(["Paßwort", "ключ"]).unwrap();
        assert!(redactor.is_secret("DB-PAẞWORT"));
        assert!(redactor.is_secret("db_paßwort"));
        assert!(redactor.is_secret("API-КЛЮЧ"));
        assert!(!redactor.is_secret("клич"));
        // Lower-casing is not case folding: `ss` is not `ß`.
        assert!(!redactor.is_secret("DB-PASSWORT"));
        // "İ" lower-cases to two characters; a name can match from the second one.
        let dotted = Redactor::new(["\u{307}x"]).unwrap();
        assert!(dotted.is_secret("İX"));
    }

    #[test]
    fn a_custom_list_replaces_the_default_one() {
        let redactor = Redactor::new(["ssn", "X-Internal-Sig"]).unwrap();
        let (event, text) = log_with(
            &redactor,
            r#"{"customer_ssn": "123-45-6789", "headers": {"x-internal-sig": "sig-value",
                "Authorization": "Bearer visible"}}"#,
        );
        assert_hidden(&text, &["123-45-6789", "sig-value"]);
        assert_eq!(event["headers"]["Authorization"], "Bearer visible");
    }

    #[test]
    fn the_default_list_can_be_extended() {
        let redactor = Redactor::new(DEFAULT_KEYS.iter().chain(&["ssn"])).unwrap();
        assert!(redactor.is_secret("ssn"));
        for name in DEFAULT_KEYS {
            assert!(redactor.is_secret(name));
        }
    }

    #[test]
    fn a_list_from_the_environment_is_split_on_commas_and_trimmed() {
        let redactor = Redactor::from_list(" authorization , ssn,X-Sig ").unwrap();
        assert!(redactor.is_secret("Authorization"));
        assert!(redactor.is_secret("customer-ssn"));
        assert!(redactor.is_secret("x_sig"));
        assert!(!redactor.is_secret("password"));
    }

    #[test]
    fn an_empty_entry_in_a_list_is_an_error_naming_its_position() {
        let error = Redactor::from_list("authorization,,ssn").unwrap_err();
        assert_eq!(error.position(), Some(2));
        assert_eq!(error.key(), "");
        assert_eq!(error.to_string(), "redaction key 2 is empty");
        assert_eq!(
            Redactor::from_list("authorization,")
                .unwrap_err()
                .position(),
            Some(2)
        );
        assert_eq!(
            Redactor::from_list(" , ssn").unwrap_err().position(),
            Some(1)
        );
        assert_eq!(Redactor::from_list("").unwrap_err().position(), Some(1));
    }

    #[test]
    fn a_name_of_only_separators_is_an_error_naming_it() {
        let error = Redactor::new(["token", " -_. "]).unwrap_err();
        assert_eq!(error.key(), "-_.");
        assert_eq!(error.position(), Some(2));
        assert_eq!(
            error.to_string(),
            "redaction key 2 `-_.` is only separators, which matching ignores; it would hide \
             every value"
        );
    }

    #[test]
    fn an_empty_list_is_an_error() {
        let error = Redactor::new(Vec::<String>::new()).unwrap_err();
        assert_eq!(error.position(), None);
        assert_eq!(
            error.to_string(),
            "the redaction key list is empty; name at least one key, or keep the default"
        );
    }

    #[test]
    fn redacting_a_value_in_place_keeps_everything_else() {
        let mut event = json!({"a": 1, "b": [true, null], "headers": {"Cookie": "c=1"}});
        Redactor::default().redact(&mut event);
        assert_eq!(
            event,
            json!({"a": 1, "b": [true, null], "headers": {"Cookie": "[REDACTED]"}})
        );
    }
}
