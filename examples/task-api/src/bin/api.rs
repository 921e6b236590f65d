//! The task API: `POST /tasks` accepts a task and answers `202 Accepted` at once, with its
//! status URL in `Location`; `GET /tasks/{id}` answers the task, `pending`, `processing`,
//! `completed` (with its result) or `failed` (with why). One function serves both routes.
//!
//! `POST /tasks` writes the task `pending`, then sends it to the processor function
//! (`PROCESSOR_FUNCTION`) as an asynchronous invocation (`Invoker::send`, invocation type
//! `Event`), which returns as soon as Lambda has queued the event, and only then answers. The
//! work is never left to run after the answer: Lambda freezes this function's execution
//! environment as soon as the handler returns.
//!
//! helve answers for the handler when the body is not one it can take: 415 for a body that is
//! not JSON by its `Content-Type`, 400 for a body that is not JSON or not a task (naming the
//! field), 413 over 64 KiB, 422 for a type the processor does not do. The handler answers 404
//! `task_not_found`, 503 `store_unavailable` when the store fails, and 503
//! `processor_unavailable` when the processor could not be invoked.
//!
//! Tasks are kept in memory (starting with a sample completed task) unless `TASKS_TABLE` names
//! a DynamoDB table (feature `dynamodb`). In local mode the invocation is not sent: helve logs
//! it, payload included.
//!
//! Run with
//!
//! ```text
//! cargo run -p example-task-api --bin api -- examples/task-api/events/create-task.json
//! ```
//!
//! Deploy with `cargo lambda build` and `sam deploy --guided` from `examples/task-api` (see
//! the README).

use example_task_api::{
    Accepted, NewTask, Store, Task, TaskError, TaskEvent, TaskStore, is_task_id, new_task_id,
    not_sent, now_ms, processor_function_from_env,
};
use helve::http::{
    FromRequest, IntoResponse, Json, Method, Problem, Response, StatusCode, Valid, header,
};
use helve::invoke::Invoker;

/// What both routes share, built once per execution environment.
#[derive(Debug)]
struct Api {
    /// Where tasks are kept.
    store: Store,
    /// Sends each task to the processor.
    invoker: Invoker,
    /// The processor function: `PROCESSOR_FUNCTION`.
    processor: String,
}

/// Reads the settings and picks the store once, before the first request: a mistake here is
/// an init error, not a failure of every request.
async fn setup() -> Result<Api, helve::ConfigError> {
    let processor = processor_function_from_env()?;
    let store = Store::from_env().await?;
    tracing::info!(
        store = store.name(),
        processor = %processor,
        "tasks are kept in {}; each is sent to `{processor}`",
        store.describe()
    );
    Ok(Api {
        store,
        // No aws-config: the region and the role's credentials are read from what Lambda
        // puts in the environment.
        invoker: Invoker::from_env(),
        processor,
    })
}

#[helve::handler(service = "tasks", namespace = "Tasks", init = setup, http(body_limit = 65536))]
async fn api(request: helve::http::Request, api: &Api) -> Response {
    match route(request.method(), request.uri().path()) {
        Route::Create => match Valid::<NewTask>::from_request(&request) {
            Ok(Valid(new)) => create_task(new, api).await.into_response(),
            Err(problem) => problem.into_response(),
        },
        Route::Get(id) => get_task(id, api).await.into_response(),
        Route::MethodNotAllowed(allow) => (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, allow)],
            Problem::new(StatusCode::METHOD_NOT_ALLOWED)
                .with_code("method_not_allowed")
                .with_detail(format!("this path takes {allow}")),
        )
            .into_response(),
        Route::NotFound => Problem::new(StatusCode::NOT_FOUND)
            .with_code("route_not_found")
            .with_detail("this API has POST /tasks and GET /tasks/{id}")
            .into_response(),
    }
}

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route<'a> {
    /// `POST /tasks`.
    Create,
    /// `GET /tasks/{id}`, with the id as sent.
    Get(&'a str),
    /// A known path with another method: 405, with the one it takes in `Allow`.
    MethodNotAllowed(&'static str),
    /// Any other path: 404. (Behind the HTTP API of `template.yaml`, API Gateway answers those
    /// itself; a Function URL sends every path here.)
    NotFound,
}

/// The route of `method` and `path`.
fn route<'a>(method: &Method, path: &'a str) -> Route<'a> {
    match path.strip_prefix("/tasks") {
        Some("") if method == Method::POST => Route::Create,
        Some("") => Route::MethodNotAllowed("POST"),
        Some(rest) => match rest.strip_prefix('/') {
            Some(id) if !id.contains('/') => {
                if method == Method::GET {
                    Route::Get(id)
                } else {
                    Route::MethodNotAllowed("GET")
                }
            }
            _ => Route::NotFound,
        },
        None => Route::NotFound,
    }
}

/// `POST /tasks`: writes the task `pending`, sends it to the processor, and answers 202.
async fn create_task(new: NewTask, api: &Api) -> Result<Accepted, TaskError> {
    let task = Task::pending(new_task_id(), new, now_ms());
    // Written first, so that the status URL answers as soon as the client has it, and the
    // processor finds the task.
    api.store.create(&task).await?;
    // `send` returns once Lambda has accepted the event (202), before the processor runs. It
    // adds this request's correlation id to the event (`_helve`), so that the processor's log
    // lines carry the same `correlation_id` as these.
    if let Err(error) = api
        .invoker
        .send(&api.processor, &TaskEvent::of(&task))
        .await
    {
        // Nothing will ever move a task whose event was not sent: left `pending`, a client
        // polling its status URL would wait forever. So it is marked `failed`, with why, and
        // the client is told 503 and may create it again. Only if still `pending`: when Lambda
        // took the event but its answer was lost, the processor may already have the task,
        // which is then accepted after all.
        match api
            .store
            .fail_pending(&task.id, &not_sent(&error), now_ms())
            .await
        {
            Ok(Some(_)) => {
                tracing::warn!(
                    task_id = %task.id,
                    "task {} is marked failed, since it was not sent",
                    task.id
                );
                metrics::counter!("TasksNotSent").increment(1);
                return Err(TaskError::NotSent {
                    id: task.id,
                    source: error,
                });
            }
            Ok(None) => tracing::info!(
                task_id = %task.id,
                "task {} was sent after all: the processor has it ({error})",
                task.id
            ),
            Err(store_error) => {
                tracing::error!(
                    task_id = %task.id,
                    "task {} stays pending: it was not sent, and marking it failed failed too: {}",
                    task.id,
                    helve::error::chain_message(&store_error)
                );
                return Err(TaskError::NotSent {
                    id: task.id,
                    source: error,
                });
            }
        }
    }
    metrics::counter!("TasksAccepted").increment(1);
    tracing::info!(
        task_id = %task.id,
        task_type = %task.kind,
        "task {} accepted and sent to `{}`",
        task.id,
        api.processor
    );
    Ok(Accepted::of(&task))
}

/// `GET /tasks/{id}`: the task, or 404 `task_not_found`.
async fn get_task(id: &str, api: &Api) -> Result<Json<Task>, TaskError> {
    // An id the API never makes names no task: no need to ask the store, nor to show it.
    if !is_task_id(id) {
        return Err(TaskError::NotATaskId);
    }
    match api.store.get(id).await? {
        Some(task) => Ok(Json(task)),
        None => Err(TaskError::NotFound(id.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use example_task_api::{MemoryStore, Status};
    use helve::ErrorStatus;
    use helve::context::Mode;
    use serde_json::{Value, json};
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

    use super::*;

    fn new_task() -> NewTask {
        serde_json::from_value(json!({
            "type": "report",
            "input": {"title": "November", "values": [120.5, 98, 143.25]},
        }))
        .unwrap()
    }

    /// One request the stand-in for Lambda received.
    #[derive(Debug, Clone)]
    struct Received {
        path: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Received {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str())
        }
    }

    /// A stand-in for Lambda's Invoke endpoint on 127.0.0.1: answers every request with
    /// `status`, `headers` and `body`, and keeps what it received.
    async fn lambda(
        status: &'static str,
        answer_headers: &'static str,
        answer_body: &'static str,
    ) -> (String, Arc<Mutex<Vec<Received>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&received);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let mut stream = BufReader::new(stream);
                let mut line = String::new();
                stream.read_line(&mut line).await.unwrap();
                let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
                let mut headers = Vec::new();
                loop {
                    line.clear();
                    stream.read_line(&mut line).await.unwrap();
                    let Some((name, value)) = line.trim_end().split_once(':') else {
                        break;
                    };
                    headers.push((name.trim().to_owned(), value.trim().to_owned()));
                }
                let length = headers
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, value)| value.parse().ok())
                    .unwrap_or(0);
                let mut body = vec![0; length];
                stream.read_exact(&mut body).await.unwrap();
                kept.lock().unwrap().push(Received {
                    path,
                    headers,
                    body,
                });
                let answer = format!(
                    "HTTP/1.1 {status}\r\n{answer_headers}content-length: {}\r\nconnection: \
                     close\r\n\r\n{answer_body}",
                    answer_body.len()
                );
                stream.get_mut().write_all(answer.as_bytes()).await.unwrap();
            }
        });
        (endpoint, received)
    }

    /// An `Invoker` whose calls go to `endpoint`.
    fn invoker(endpoint: &str) -> Invoker {
        use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
        let config = aws_sdk_lambda::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
            .endpoint_url(endpoint)
            .http_client(helve::aws::https_client())
            .build();
        Invoker::from_client(aws_sdk_lambda::Client::from_conf(config))
    }

    fn api(invoker: Invoker) -> Api {
        Api {
            store: Store::Memory(MemoryStore::new()),
            invoker,
            processor: "task-processor".to_owned(),
        }
    }

    /// The context of an invocation of the API with this correlation id.
    fn context(correlation_id: &str) -> helve::Context {
        helve::Context::builder()
            .correlation_id(correlation_id)
            .timeout(Duration::from_secs(10))
            .build()
    }

    #[tokio::test]
    async fn a_task_is_written_pending_sent_as_an_event_and_answered_202() {
        let (endpoint, received) = lambda("202 Accepted", "", "").await;
        let api = api(invoker(&endpoint));
        let accepted = context("Kx7bJgH1IAMEVxw=")
            .scope(create_task(new_task(), &api))
            .await
            .unwrap();
        let id = accepted.body.id.clone();
        assert!(is_task_id(&id), "{id}");
        assert_eq!(accepted.location, format!("/tasks/{id}"));
        assert_eq!(accepted.body.status, Status::Pending);
        let response = accepted.into_response();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert_eq!(response.headers()[header::LOCATION], format!("/tasks/{id}"));

        let task = api.store.get(&id).await.unwrap().expect("the task is kept");
        assert_eq!(
            (task.status, task.kind.as_str()),
            (Status::Pending, "report")
        );

        let received = received.lock().unwrap().clone();
        assert_eq!(received.len(), 1, "one invocation");
        let invoke = &received[0];
        assert_eq!(
            invoke.path,
            "/2015-03-31/functions/task-processor/invocations"
        );
        assert_eq!(invoke.header("x-amz-invocation-type"), Some("Event"));
        let event: Value = serde_json::from_slice(&invoke.body).unwrap();
        assert_eq!(
            event,
            json!({
                "id": id,
                "type": "report",
                "input": {"title": "November", "values": [120.5, 98, 143.25]},
                "_helve": {"correlation_id": "Kx7bJgH1IAMEVxw="},
            })
        );
    }

    #[tokio::test]
    async fn a_task_that_cannot_be_sent_is_marked_failed_and_answered_503() {
        let (endpoint, _) = lambda(
            "404 Not Found",
            "x-amzn-errortype: ResourceNotFoundException\r\ncontent-type: application/json\r\n",
            r#"{"Type":"User","message":"Function not found: arn:aws:lambda:us-east-1:123456789012:function:task-processor"}"#,
        )
        .await;
        let api = api(invoker(&endpoint));
        let error = context("c-2")
            .scope(create_task(new_task(), &api))
            .await
            .unwrap_err();
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.code(), Some("processor_unavailable"));
        assert!(!error.expose());
        let TaskError::NotSent { id, .. } = &error else {
            panic!("expected NotSent, got {error:?}");
        };
        assert!(error.log_message().contains("ResourceNotFoundException"));

        let task = api.store.get(id).await.unwrap().expect("the task is kept");
        assert_eq!(task.status, Status::Failed, "not left pending forever");
        let failure = task.error.expect("why it failed");
        assert_eq!(failure.error_type, "tasks.NotSent");
        assert_eq!(
            failure.message,
            "the task could not be sent to the processor: Lambda refused the invocation \
             (ResourceNotFoundException); create it again"
        );
        assert!(
            !failure.message.contains("123456789012"),
            "no ARN for the client"
        );
    }

    #[tokio::test]
    async fn in_local_mode_the_event_is_not_sent() {
        // Nothing listens on the endpoint: the invocation must not be made.
        let api = api(invoker("http://127.0.0.1:9"));
        let local = helve::Context::builder()
            .mode(Mode::Local)
            .timeout(Duration::from_secs(10))
            .build();
        let accepted = local.scope(create_task(new_task(), &api)).await.unwrap();
        let task = api.store.get(&accepted.body.id).await.unwrap().unwrap();
        assert_eq!(task.status, Status::Pending);
    }

    #[tokio::test]
    async fn a_store_that_fails_is_a_503_and_nothing_is_sent() {
        let (endpoint, received) = lambda("202 Accepted", "", "").await;
        let store = MemoryStore::new();
        store.set_unavailable(true);
        let api = Api {
            store: Store::Memory(store),
            ..api(invoker(&endpoint))
        };
        let error = context("c-3")
            .scope(create_task(new_task(), &api))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some("store_unavailable"));
        assert!(
            received.lock().unwrap().is_empty(),
            "no event for an unwritten task"
        );
    }

    #[tokio::test]
    async fn a_task_is_found_by_its_id_and_an_unknown_one_is_not() {
        let api = api(invoker("http://127.0.0.1:9"));
        let sample = Task::sample();
        let Json(task) = get_task(&sample.id, &api).await.unwrap();
        assert_eq!(task, sample);
        let missing = get_task("0e3b8f5c-2a4d-4c1e-9b7a-6f2d8e1c4a91", &api)
            .await
            .unwrap_err();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            missing.to_string(),
            "task 0e3b8f5c-2a4d-4c1e-9b7a-6f2d8e1c4a91 not found"
        );
        for id in ["<script>", "", &"1".repeat(5000)] {
            let error = get_task(id, &api).await.unwrap_err();
            assert_eq!(error.code(), Some("task_not_found"));
            assert_eq!(error.to_string(), "no task has this id", "not shown back");
        }
    }

    #[test]
    fn requests_are_routed_by_method_and_path() {
        assert_eq!(route(&Method::POST, "/tasks"), Route::Create);
        assert_eq!(route(&Method::GET, "/tasks/abc"), Route::Get("abc"));
        assert_eq!(route(&Method::GET, "/tasks/"), Route::Get(""));
        assert_eq!(
            route(&Method::GET, "/tasks"),
            Route::MethodNotAllowed("POST")
        );
        assert_eq!(
            route(&Method::DELETE, "/tasks/abc"),
            Route::MethodNotAllowed("GET")
        );
        for path in ["/", "/taskss", "/tasks/a/b", "/orders"] {
            assert_eq!(route(&Method::GET, path), Route::NotFound, "{path}");
        }
    }
}
