//! What one test invocation gave back and wrote.

use lambda_runtime::Diagnostic;
use serde_json::Value;

use super::{
    capture::{Captured, documents},
    logs::{LogLine, Logs, is_emf},
    metrics::Metrics,
};

/// The lines and EMF documents written, taken out of a capture.
#[derive(Debug, Clone, Default)]
pub(crate) struct Written {
    pub(crate) lines: Vec<LogLine>,
    pub(crate) documents: Vec<Value>,
}

impl Written {
    /// Everything written into `captured` since the last time, parsed.
    ///
    /// # Panics
    ///
    /// When helve wrote a line that is not JSON: a bug the test must show.
    pub(crate) fn take(captured: &Captured) -> Self {
        let text = String::from_utf8_lossy(&captured.take()).into_owned();
        let lines = text
            .lines()
            .filter(|raw| !is_emf(raw))
            .map(|raw| {
                LogLine::parse(raw)
                    .unwrap_or_else(|problem| panic!("helve wrote a bad line ({problem}): {raw}"))
            })
            .collect();
        Self {
            lines,
            documents: documents(&text),
        }
    }
}

/// What one invocation gave back (its response, or the error Lambda would get) and
/// everything it wrote: its log lines, its EMF documents, and for a custom resource the answer
/// it PUT to CloudFormation.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub(crate) request_id: String,
    pub(crate) response: Result<Value, Diagnostic>,
    pub(crate) written: Written,
    #[cfg(feature = "cfn")]
    pub(crate) custom_resource: Vec<super::Received>,
}

impl Outcome {
    /// The invocation's request id.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The response as `lambda_runtime` sends it (JSON), or the error Lambda gets: its
    /// `errorType` and `errorMessage`.
    pub fn response(&self) -> Result<&Value, &Diagnostic> {
        self.response.as_ref()
    }

    /// The response.
    ///
    /// # Panics
    ///
    /// When the invocation failed, with its error and every line it wrote.
    #[track_caller]
    pub fn assert_response(&self) -> &Value {
        match &self.response {
            Ok(response) => response,
            Err(error) => panic!(
                "expected a response, the invocation failed with {}: {}\n{}",
                error.error_type,
                error.error_message,
                self.every_line()
            ),
        }
    }

    /// The error, after checking that its `errorType` is `error_type`.
    ///
    /// # Panics
    ///
    /// When the invocation succeeded, or failed with another `errorType`.
    #[track_caller]
    pub fn assert_error(&self, error_type: &str) -> &Diagnostic {
        match &self.response {
            Err(error) if error.error_type == error_type => error,
            Err(error) => panic!(
                "expected the error {error_type}, the invocation failed with {}: {}\n{}",
                error.error_type,
                error.error_message,
                self.every_line()
            ),
            Ok(response) => panic!(
                "expected the error {error_type}, the invocation answered {response}\n{}",
                self.every_line()
            ),
        }
    }

    /// The log lines the invocation wrote, to narrow down:
    /// `outcome.logs().at(Level::ERROR).with("error_type", "helve.Panic").assert_one()`.
    pub fn logs(&self) -> Logs<'_> {
        Logs::new(&self.written.lines)
    }

    /// Every log line the invocation wrote, in order.
    pub fn log_lines(&self) -> &[LogLine] {
        &self.written.lines
    }

    /// The metrics of the EMF documents the invocation wrote, to narrow down:
    /// `outcome.metrics().named("Orders").dimension("service", "shop").assert_value(1.0)`.
    pub fn metrics(&self) -> Metrics {
        Metrics::new(&self.written.documents)
    }

    /// The EMF documents the invocation wrote, each `_aws.Timestamp` set to 0.
    pub fn emf_documents(&self) -> &[Value] {
        &self.written.documents
    }

    /// The `itemIdentifier` of each `batchItemFailures` entry of a batch handler's response,
    /// in order; empty when every record succeeded.
    ///
    /// # Panics
    ///
    /// When the invocation failed, or answered something other than a batch response.
    #[track_caller]
    pub fn batch_item_failures(&self) -> Vec<String> {
        let response = self.assert_response();
        let Some(failures) = response["batchItemFailures"].as_array() else {
            panic!("expected a batch response (`batchItemFailures`), found {response}");
        };
        failures
            .iter()
            .map(|failure| {
                failure["itemIdentifier"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }

    /// Asserts that exactly these records failed (their message ids, sequence numbers), in
    /// this order, and no other.
    ///
    /// # Panics
    ///
    /// When others failed, with every line the invocation wrote.
    #[track_caller]
    pub fn assert_failed_records(&self, ids: &[&str]) {
        let failed = self.batch_item_failures();
        if failed != ids {
            panic!(
                "expected the records {ids:?} to fail, {failed:?} failed\n{}",
                self.every_line()
            );
        }
    }

    /// The response of an HTTP function, read from what API Gateway, the ALB or the Function
    /// URL receives.
    ///
    /// # Panics
    ///
    /// When the invocation failed, or answered something that is not an HTTP response.
    #[track_caller]
    pub fn http(&self) -> HttpResponse {
        let response = self.assert_response();
        HttpResponse::from_json(response)
            .unwrap_or_else(|problem| panic!("expected an HTTP response, {problem}: {response}"))
    }

    /// The body of the answer the custom resource PUT to CloudFormation's `ResponseURL`
    /// (`Status`, `Reason`, `PhysicalResourceId`, `Data`, ...), when it sent one; the last of
    /// them when it retried.
    #[cfg(feature = "cfn")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cfn")))]
    pub fn custom_resource_response(&self) -> Option<&Value> {
        self.custom_resource.last().map(|received| &received.body)
    }

    /// Every request the custom resource sent to its `ResponseURL`, in order.
    #[cfg(feature = "cfn")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cfn")))]
    pub fn custom_resource_requests(&self) -> &[super::Received] {
        &self.custom_resource
    }

    /// The body of the answer the custom resource PUT to CloudFormation.
    ///
    /// # Panics
    ///
    /// When it sent none, with every line the invocation wrote.
    #[cfg(feature = "cfn")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cfn")))]
    #[track_caller]
    pub fn assert_custom_resource_response(&self) -> &Value {
        match self.custom_resource_response() {
            Some(body) => body,
            None => panic!(
                "expected an answer PUT to the ResponseURL, none was sent ({:?})\n{}",
                self.response,
                self.every_line()
            ),
        }
    }

    fn every_line(&self) -> String {
        if self.written.lines.is_empty() {
            return "--- no line was written ---".to_owned();
        }
        let lines: Vec<&str> = self
            .written
            .lines
            .iter()
            .map(|line| line.raw.as_str())
            .collect();
        format!("--- every line written ---\n{}", lines.join("\n"))
    }
}

/// An HTTP function's response, as API Gateway (REST or HTTP API), the ALB or a Function URL
/// receives it from the function.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HttpResponse {
    /// `statusCode`.
    pub status: u16,
    /// `headers` and `multiValueHeaders`, each value on its own, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body, decoded from base64 when `isBase64Encoded`.
    pub body: Vec<u8>,
}

impl HttpResponse {
    fn from_json(response: &Value) -> Result<Self, String> {
        let status = response["statusCode"]
            .as_u64()
            .and_then(|status| u16::try_from(status).ok())
            .ok_or("without a `statusCode`")?;
        let mut headers = Vec::new();
        if let Some(single) = response["headers"].as_object() {
            for (name, value) in single {
                headers.push((name.to_ascii_lowercase(), text(value)));
            }
        }
        if let Some(multi) = response["multiValueHeaders"].as_object() {
            for (name, values) in multi {
                for value in values.as_array().into_iter().flatten() {
                    let pair = (name.to_ascii_lowercase(), text(value));
                    if !headers.contains(&pair) {
                        headers.push(pair);
                    }
                }
            }
        }
        if let Some(cookies) = response["cookies"].as_array() {
            for cookie in cookies {
                headers.push(("set-cookie".to_owned(), text(cookie)));
            }
        }
        let raw = response["body"].as_str().unwrap_or_default();
        let body = if response["isBase64Encoded"] == Value::Bool(true) {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(raw)
                .map_err(|error| format!("whose body is not base64 ({error})"))?
        } else {
            raw.as_bytes().to_vec()
        };
        Ok(Self {
            status,
            headers,
            body,
        })
    }

    /// The first value of the header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(header, _)| *header == name)
            .map(|(_, value)| value.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    ///
    /// # Panics
    ///
    /// When it is not JSON, with the body.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("the body is not JSON ({error}): {}", self.text()))
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
