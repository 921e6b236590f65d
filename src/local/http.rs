//! `--http METHOD PATH`: the API Gateway HTTP API (payload 2.0) event of one request, as API
//! Gateway would send it.

use std::time::SystemTime;

use serde_json::{Map, Value, json};

/// The request `--http`, `--route`, `--body` and `--header` describe.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HttpRequest {
    pub(super) method: String,
    /// The path with its query string, as given.
    pub(super) path: String,
    pub(super) body: Option<String>,
    /// Names lower-cased, in the order given.
    pub(super) headers: Vec<(String, String)>,
    /// `--route`: the API's route for the path, as `/orders/{id}`.
    pub(super) route: Option<String>,
}

/// The account, API and client the generated events name.
const ACCOUNT_ID: &str = "123456789012";
const API_ID: &str = "local";
const SOURCE_IP: &str = "127.0.0.1";
const USER_AGENT: &str = "helve-local";

impl HttpRequest {
    /// `METHOD` and `PATH` of `--http`: a method name, and a path starting with `/`.
    pub(super) fn new(method: &str, path: &str) -> Result<Self, String> {
        if method.is_empty() || !method.bytes().all(|byte| byte.is_ascii_alphabetic()) {
            return Err(format!(
                "`--http {method}`: expected a method such as GET or POST, then a path"
            ));
        }
        if !path.starts_with('/') {
            return Err(format!(
                "`--http {method} {path}`: the path starts with `/`, as `/orders?limit=10`"
            ));
        }
        Ok(Self {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            body: None,
            headers: Vec::new(),
            route: None,
        })
    }

    /// One `--header NAME:VALUE`.
    pub(super) fn header(&mut self, header: &str) -> Result<(), String> {
        let (name, value) = header
            .split_once(':')
            .filter(|(name, _)| is_token(name.trim()))
            .ok_or_else(|| {
                format!("`--header {header}`: expected NAME:VALUE, as `x-tenant-id: t-1`")
            })?;
        self.headers
            .push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        Ok(())
    }

    /// Checks what only the whole command line can tell: a body without a content type is
    /// JSON, and the path matches the route.
    pub(super) fn check(&self) -> Result<(), String> {
        if let Some(body) = &self.body
            && self.header_value("content-type").is_none()
            && serde_json::from_str::<serde::de::IgnoredAny>(body).is_err()
        {
            return Err(
                "`--body` is not JSON; give its type with `--header content-type:...` for \
                 another body"
                    .to_owned(),
            );
        }
        if let Some(route) = &self.route {
            let (path, _) = split_query(&self.path);
            if path_parameters(route, path).is_none() {
                return Err(format!(
                    "`--route {route}` does not match the path `{path}`: give the route of the \
                     API that serves it, as `/orders/{{id}}`"
                ));
            }
        }
        Ok(())
    }

    fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The event, with `request_id` as API Gateway's request id and `trace_root` (an X-Ray
    /// `Root=...`) as the load balancer's trace header.
    pub(super) fn event(&self, now: SystemTime, request_id: &str, trace_root: &str) -> Value {
        let region = std::env::var("AWS_REGION")
            .ok()
            .filter(|region| !region.is_empty())
            .unwrap_or_else(|| "us-east-1".to_owned());
        let domain = format!("{API_ID}.execute-api.{region}.amazonaws.com");
        let (path, query) = split_query(&self.path);

        let mut headers = Map::new();
        let mut cookies = Vec::new();
        for (name, value) in [
            ("accept", "*/*"),
            ("host", domain.as_str()),
            ("user-agent", USER_AGENT),
            ("x-amzn-trace-id", trace_root),
            ("x-forwarded-for", SOURCE_IP),
            ("x-forwarded-port", "443"),
            ("x-forwarded-proto", "https"),
        ] {
            headers.insert(name.to_owned(), Value::from(value));
        }
        if let Some(body) = &self.body {
            headers.insert("content-length".to_owned(), body.len().to_string().into());
            headers.insert("content-type".to_owned(), "application/json".into());
        }
        let mut given = Map::new();
        for (name, value) in &self.headers {
            if name == "cookie" {
                // HTTP APIs pass cookies apart, one string each.
                cookies.extend(
                    value
                        .split(';')
                        .map(str::trim)
                        .filter(|cookie| !cookie.is_empty())
                        .map(Value::from),
                );
                continue;
            }
            // A repeated header is joined with commas, as HTTP APIs do.
            let joined = match given.get(name).and_then(Value::as_str) {
                Some(earlier) => format!("{earlier},{value}"),
                None => value.clone(),
            };
            given.insert(name.clone(), joined.into());
        }
        headers.extend(given);
        let user_agent = headers
            .get("user-agent")
            .cloned()
            .unwrap_or_else(|| USER_AGENT.into());

        let route_key = match &self.route {
            Some(route) => format!("{} {route}", self.method),
            None => "$default".to_owned(),
        };
        let millis = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_millis())
            .unwrap_or(0);
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": path,
            "rawQueryString": query,
            "headers": headers,
            "requestContext": {
                "accountId": ACCOUNT_ID,
                "apiId": API_ID,
                "domainName": domain,
                "domainPrefix": API_ID,
                "http": {
                    "method": self.method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": SOURCE_IP,
                    "userAgent": user_agent,
                },
                "requestId": request_id,
                "routeKey": route_key,
                "stage": "$default",
                "time": clf_time(now),
                "timeEpoch": u64::try_from(millis).unwrap_or(u64::MAX),
            },
            "isBase64Encoded": false,
        });
        if let Some(object) = event.as_object_mut() {
            if !cookies.is_empty() {
                object.insert("cookies".to_owned(), cookies.into());
            }
            if !query.is_empty() {
                object.insert("queryStringParameters".to_owned(), query_parameters(query));
            }
            let parameters = self
                .route
                .as_deref()
                .and_then(|route| path_parameters(route, path))
                .filter(|parameters| !parameters.is_empty());
            if let Some(parameters) = parameters {
                object.insert("pathParameters".to_owned(), parameters.into());
            }
            if let Some(body) = &self.body {
                object.insert("body".to_owned(), body.as_str().into());
            }
        }
        event
    }
}

/// An HTTP token (a header name): letters, digits and ``!#$%&'*+-.^_`|~``.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

fn split_query(path: &str) -> (&str, &str) {
    path.split_once('?').unwrap_or((path, ""))
}

/// `queryStringParameters` as HTTP APIs fill it: values decoded, a repeated name's values
/// joined with commas.
fn query_parameters(query: &str) -> Value {
    let mut parameters = Map::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (form_decode(name), form_decode(value));
        let joined = match parameters.get(&name).and_then(Value::as_str) {
            Some(earlier) => format!("{earlier},{value}"),
            None => value,
        };
        parameters.insert(name, joined.into());
    }
    parameters.into()
}

/// The values of a route's `{name}` segments (a last `{name+}` takes the rest of the path),
/// or `None` when the path does not match the route.
fn path_parameters(route: &str, path: &str) -> Option<Map<String, Value>> {
    let mut parameters = Map::new();
    let mut segments = path.trim_start_matches('/').split('/');
    let mut patterns = route.trim_start_matches('/').split('/').peekable();
    while let Some(pattern) = patterns.next() {
        let name = pattern
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'));
        match name {
            Some(greedy) if greedy.ends_with('+') && patterns.peek().is_none() => {
                let rest: Vec<&str> = segments.by_ref().collect();
                if rest.is_empty() || rest == [""] {
                    return None;
                }
                let name = greedy.trim_end_matches('+');
                parameters.insert(name.to_owned(), form_decode_path(&rest.join("/")).into());
            }
            Some(name) => {
                let segment = segments.next().filter(|segment| !segment.is_empty())?;
                parameters.insert(name.to_owned(), form_decode_path(segment).into());
            }
            None => {
                if segments.next()? != pattern {
                    return None;
                }
            }
        }
    }
    segments.next().is_none().then_some(parameters)
}

/// A query string's part decoded: `+` is a space, `%XX` a byte.
fn form_decode(text: &str) -> String {
    percent_decode(&text.replace('+', " "))
}

/// A path segment decoded: `%XX` is a byte, `+` stays.
fn form_decode_path(text: &str) -> String {
    percent_decode(text)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = |index: usize| {
            bytes
                .get(index)
                .and_then(|byte| char::from(*byte).to_digit(16))
        };
        match (bytes[at], hex(at + 1), hex(at + 2)) {
            (b'%', Some(high), Some(low)) => {
                // Two hexadecimal digits: at most 0xff.
                out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                at += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `time` as API Gateway writes `requestContext.time`: `23/Nov/2026:17:03:10 +0000`.
fn clf_time(time: SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let seconds = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0);
    let (year, month, day) = crate::logging::civil_from_days(seconds / 86_400);
    let of_day = seconds % 86_400;
    let month = usize::try_from(month.saturating_sub(1))
        .ok()
        .and_then(|index| MONTHS.get(index))
        .unwrap_or(&"Jan");
    format!(
        "{day:02}/{month}/{year}:{:02}:{:02}:{:02} +0000",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn request(method: &str, path: &str) -> HttpRequest {
        HttpRequest::new(method, path).unwrap()
    }

    fn event(request: &HttpRequest) -> Value {
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_453_390_527);
        request.event(
            now,
            "Kx7clhS8IAMEfPg=",
            "Root=1-6b04c25e-4c8e2a6b0d9f1e3a5c7b9d5e",
        )
    }

    #[test]
    fn a_post_with_a_body_is_the_event_an_http_api_sends() {
        let mut post = request("post", "/orders?dry_run=true&tag=a+b&tag=c%2Fd");
        post.body = Some(r#"{"sku":"ABC-123"}"#.to_owned());
        post.header("X-Tenant-Id: t-1").unwrap();
        post.header("Cookie: session=s1; theme=dark").unwrap();
        post.check().unwrap();
        let event = event(&post);
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], "$default");
        assert_eq!(event["rawPath"], "/orders");
        assert_eq!(event["rawQueryString"], "dry_run=true&tag=a+b&tag=c%2Fd");
        assert_eq!(
            event["queryStringParameters"],
            json!({"dry_run": "true", "tag": "a b,c/d"})
        );
        assert_eq!(event["body"], r#"{"sku":"ABC-123"}"#);
        assert_eq!(event["isBase64Encoded"], false);
        assert_eq!(event["headers"]["content-type"], "application/json");
        assert_eq!(event["headers"]["content-length"], "17");
        assert_eq!(event["headers"]["x-tenant-id"], "t-1");
        assert_eq!(event["headers"].get("cookie"), None);
        assert_eq!(event["cookies"], json!(["session=s1", "theme=dark"]));
        let context = &event["requestContext"];
        assert_eq!(context["requestId"], "Kx7clhS8IAMEfPg=");
        assert_eq!(context["http"]["method"], "POST");
        assert_eq!(context["http"]["path"], "/orders");
        assert_eq!(context["http"]["sourceIp"], "127.0.0.1");
        assert_eq!(context["time"], "23/Nov/2026:17:03:10 +0000");
        assert_eq!(context["timeEpoch"], 1_795_453_390_527_u64);
        assert_eq!(context["stage"], "$default");
    }

    #[test]
    fn a_get_without_a_body_has_no_body_and_no_content_type() {
        let event = event(&request("GET", "/orders"));
        assert_eq!(event.get("body"), None);
        assert_eq!(event.get("queryStringParameters"), None);
        assert_eq!(event["rawQueryString"], "");
        assert_eq!(event["headers"].get("content-type"), None);
    }

    #[test]
    fn a_content_type_header_replaces_the_json_default() {
        let mut post = request("POST", "/notes");
        post.body = Some("plain words".to_owned());
        post.header("Content-Type: text/plain").unwrap();
        post.check().unwrap();
        assert_eq!(event(&post)["headers"]["content-type"], "text/plain");
    }

    #[test]
    fn a_route_fills_the_path_parameters_and_the_route_key() {
        let mut get = request("GET", "/orders/o%2D1/items/a/b");
        get.route = Some("/orders/{id}/items/{rest+}".to_owned());
        get.check().unwrap();
        let event = event(&get);
        assert_eq!(event["routeKey"], "GET /orders/{id}/items/{rest+}");
        assert_eq!(event["requestContext"]["routeKey"], event["routeKey"]);
        assert_eq!(event["pathParameters"], json!({"id": "o-1", "rest": "a/b"}));
    }

    #[test]
    fn mistakes_in_the_request_say_what_to_give() {
        assert_eq!(
            HttpRequest::new("GET", "orders").unwrap_err(),
            "`--http GET orders`: the path starts with `/`, as `/orders?limit=10`"
        );
        assert_eq!(
            HttpRequest::new("/orders", "GET").unwrap_err(),
            "`--http /orders`: expected a method such as GET or POST, then a path"
        );
        assert_eq!(
            request("GET", "/").header("no colon").unwrap_err(),
            "`--header no colon`: expected NAME:VALUE, as `x-tenant-id: t-1`"
        );
        let mut post = request("POST", "/orders");
        post.body = Some("{not json".to_owned());
        assert_eq!(
            post.check().unwrap_err(),
            "`--body` is not JSON; give its type with `--header content-type:...` for another body"
        );
        let mut get = request("GET", "/users/u-1");
        get.route = Some("/orders/{id}".to_owned());
        assert_eq!(
            get.check().unwrap_err(),
            "`--route /orders/{id}` does not match the path `/users/u-1`: give the route of the \
             API that serves it, as `/orders/{id}`"
        );
    }

    #[test]
    fn the_request_time_is_written_as_api_gateway_writes_it() {
        assert_eq!(
            clf_time(SystemTime::UNIX_EPOCH),
            "01/Jan/1970:00:00:00 +0000"
        );
        assert_eq!(
            clf_time(SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "29/Feb/2000:00:00:00 +0000"
        );
    }
}
