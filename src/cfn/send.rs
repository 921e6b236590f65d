//! The PUT to the pre-signed `ResponseURL`: HTTPS with rustls, bounded retries, all before the
//! deadline.

use std::{
    fmt,
    hash::{BuildHasher, Hasher},
    sync::OnceLock,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};

/// At most this many attempts.
pub(crate) const MAX_ATTEMPTS: u32 = 5;

/// The first retry waits up to this long; each later one up to twice as long as the one before.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// No wait between attempts is longer than this.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// One attempt never takes longer than this, however much time is left.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// A retry is not started with less time than this before the deadline (the first attempt is
/// made whenever any time is left).
const MIN_ATTEMPT: Duration = Duration::from_millis(50);

/// Kept free before the deadline for what follows the PUT: the log line and the invocation's
/// own answer to Lambda. No attempt runs into it.
pub(crate) const REPORT_MARGIN: Duration = Duration::from_millis(20);

type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Why the answer could not be sent.
#[derive(Debug)]
pub(crate) enum SendError {
    /// The URL is not one helve can PUT to.
    InvalidUrl(String),
    /// The TLS client could not be built.
    Client(String),
    /// CloudFormation's URL answered with a status that retrying does not change (a 4xx: an
    /// expired or altered signature, most often).
    Rejected { status: u16, attempts: u32 },
    /// Every attempt failed, or the deadline came first.
    GaveUp { attempts: u32, last: String },
    /// The deadline (less the time kept to report) had passed before the first attempt.
    NoTime,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::InvalidUrl(why) => write!(f, "the ResponseURL is not usable: {why}"),
            SendError::Client(why) => write!(f, "the HTTPS client could not be built: {why}"),
            SendError::Rejected { status, attempts } => write!(
                f,
                "the ResponseURL answered {status} on attempt {attempts}, which retrying cannot change"
            ),
            SendError::GaveUp { attempts: 1, last } => write!(f, "the one attempt failed: {last}"),
            SendError::GaveUp { attempts, last } => {
                write!(f, "{attempts} attempts failed; the last: {last}")
            }
            SendError::NoTime => write!(
                f,
                "no time was left to send it: the function's deadline was less than {} ms away",
                REPORT_MARGIN.as_millis()
            ),
        }
    }
}

/// `scheme://host/path` of a URL: what helve logs, without the query that holds the signature.
pub(crate) fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

fn client() -> Result<&'static HttpsClient, SendError> {
    static CLIENT: OnceLock<Result<HttpsClient, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let connector = hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
                .map_err(|error| error.to_string())?
                .https_or_http()
                .enable_http1()
                .build();
            // No idle connections: the execution environment may be frozen for hours between
            // two answers, and a stale connection would cost an attempt.
            Ok(Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(0)
                .build(connector))
        })
        .as_ref()
        .map_err(|why| SendError::Client(why.clone()))
}

/// PUTs `body` to `url`, retrying network errors and 5xx answers, until [`REPORT_MARGIN`]
/// before `deadline` (the function's): every attempt ends by then. One attempt is made
/// whenever any time is left. Returns the number of attempts it took.
pub(crate) async fn put(url: &str, body: Vec<u8>, deadline: Instant) -> Result<u32, SendError> {
    let deadline = deadline.checked_sub(REPORT_MARGIN).unwrap_or(deadline);
    let uri: http::Uri = url
        .parse()
        .map_err(|error: http::uri::InvalidUri| SendError::InvalidUrl(error.to_string()))?;
    match uri.scheme_str() {
        Some("https" | "http") => {}
        _ => {
            return Err(SendError::InvalidUrl(
                "expected an https:// (or http://) URL".to_owned(),
            ));
        }
    }
    let client = client()?;
    let body = Bytes::from(body);
    let shown = without_query(url);
    let mut last = String::new();
    let mut attempt = 0;
    while attempt < MAX_ATTEMPTS {
        attempt += 1;
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() && attempt == 1 {
            return Err(SendError::NoTime);
        }
        if attempt > 1 && left < MIN_ATTEMPT {
            last = format!("{last} (then the deadline came)");
            attempt -= 1;
            break;
        }
        tracing::info!(
            attempt,
            max_attempts = MAX_ATTEMPTS,
            response_url = shown,
            "sending the answer to CloudFormation"
        );
        let request = http::Request::put(uri.clone())
            // An empty Content-Type: the URL's signature was made without one.
            .header(http::header::CONTENT_TYPE, "")
            .header(http::header::CONTENT_LENGTH, body.len())
            .body(Full::new(body.clone()))
            .map_err(|error| SendError::InvalidUrl(error.to_string()))?;
        let outcome = tokio::time::timeout(left.min(ATTEMPT_TIMEOUT), async {
            let response = client.request(request).await?;
            let status = response.status();
            // Read the (small) answer so the exchange completes.
            let _ = response.into_body().collect().await;
            Ok::<_, hyper_util::client::legacy::Error>(status)
        })
        .await;
        let failure = match outcome {
            Ok(Ok(status)) if status.is_success() => return Ok(attempt),
            Ok(Ok(status)) if status.is_server_error() || status.as_u16() == 429 => {
                format!("the ResponseURL answered {status}")
            }
            Ok(Ok(status)) => {
                return Err(SendError::Rejected {
                    status: status.as_u16(),
                    attempts: attempt,
                });
            }
            Ok(Err(error)) => crate::error::chain_message(&error),
            Err(_elapsed) => "the attempt timed out".to_owned(),
        };
        last = failure;
        if attempt == MAX_ATTEMPTS {
            break;
        }
        let wait = jitter(backoff(attempt));
        let left = deadline.saturating_duration_since(Instant::now());
        if wait + MIN_ATTEMPT > left {
            tracing::warn!(
                attempt,
                response_url = shown,
                "attempt {attempt} failed: {last}; no time is left for another"
            );
            break;
        }
        tracing::warn!(
            attempt,
            retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            response_url = shown,
            "attempt {attempt} failed: {last}; retrying"
        );
        tokio::time::sleep(wait).await;
    }
    Err(SendError::GaveUp {
        attempts: attempt,
        last,
    })
}

/// The longest wait after the `attempt`-th failure: 200 ms, 400 ms, 800 ms, ... up to 2 s.
fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF)
}

/// A random wait between half of `longest` and `longest` ("equal jitter"): retries from many
/// functions spread out, and none retries at once.
fn jitter(longest: Duration) -> Duration {
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let half = longest / 2;
    let extra = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    half + Duration::from_nanos(if extra == 0 { 0 } else { random % extra })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_never_shown() {
        assert_eq!(
            without_query("https://bucket.s3.amazonaws.com/arn%3Aaws/req?X-Amz-Signature=abc"),
            "https://bucket.s3.amazonaws.com/arn%3Aaws/req"
        );
    }

    #[test]
    fn waits_grow_to_two_seconds_with_jitter() {
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(2), Duration::from_millis(400));
        assert_eq!(backoff(4), Duration::from_millis(1600));
        assert_eq!(backoff(5), Duration::from_secs(2));
        assert_eq!(backoff(40), Duration::from_secs(2));
        for attempt in 1..=5 {
            let longest = backoff(attempt);
            let wait = jitter(longest);
            assert!(
                wait >= longest / 2 && wait <= longest,
                "{wait:?} for {longest:?}"
            );
        }
    }

    #[tokio::test]
    async fn with_little_time_left_one_attempt_is_still_made() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/answer", listener.local_addr().unwrap());
        // Less than a retry needs, more than the time kept to report.
        let deadline = Instant::now() + MIN_ATTEMPT - Duration::from_millis(5);
        let outcome = put(&url, b"{}".to_vec(), deadline).await;
        // Whatever the attempt's fate, it was made: its connection is waiting.
        let accepted = tokio::time::timeout(Duration::from_secs(60), listener.accept()).await;
        assert!(accepted.is_ok(), "no attempt was made: {outcome:?}");
        if let Err(error) = outcome {
            assert!(!error.to_string().ends_with(": "), "{error}");
        }
    }

    #[tokio::test]
    async fn a_hanging_url_is_given_up_before_the_deadline() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/answer", listener.local_addr().unwrap());
        // Accepts, reads, never answers.
        let server = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        let deadline = Instant::now() + Duration::from_millis(300);
        let error = put(&url, b"{}".to_vec(), deadline).await.unwrap_err();
        assert!(
            Instant::now() < deadline,
            "the PUT ran into the time kept to report: {error}"
        );
        assert!(error.to_string().contains("timed out"), "{error}");
        server.abort();
    }

    #[tokio::test]
    async fn no_time_left_is_said_as_such() {
        let error = put("http://127.0.0.1:9/answer", Vec::new(), Instant::now())
            .await
            .unwrap_err();
        assert!(matches!(error, SendError::NoTime), "{error:?}");
        assert_eq!(
            error.to_string(),
            "no time was left to send it: the function's deadline was less than 20 ms away"
        );
    }

    #[tokio::test]
    async fn a_url_that_is_not_http_is_refused_without_an_attempt() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let error = put("ftp://example.com/x", Vec::new(), deadline)
            .await
            .unwrap_err();
        assert!(matches!(error, SendError::InvalidUrl(_)), "{error:?}");
        let error = put("not a url", Vec::new(), deadline).await.unwrap_err();
        assert!(matches!(error, SendError::InvalidUrl(_)), "{error:?}");
    }
}
