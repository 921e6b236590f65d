//! Both functions run in local mode on the example's event files, as `cargo run` runs them
//! (no `AWS_LAMBDA_RUNTIME_API`, no AWS): the API answers `create-task.json` with 202 and the
//! task's status URL, and logs the event it would send, its correlation id in `_helve`; the
//! processor, run on that very event, records and completes the task under the same
//! correlation id; and each of the processor's event files ends as its README row says.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use example_task_api::{Task, is_task_id};
use helve::testing::{LogLine, Logs, Metrics, emf_documents, log_lines};
use serde_json::{Value, json};

/// How long a function may take on one event file: a guard against hangs.
const FUNCTION_RUN: Duration = Duration::from_secs(60);

/// The `requestContext.requestId` of `create-task.json`: the API's correlation id.
const CREATE_ID: &str = "Lx2aTgH4IAMEb1w=";

/// An event file of the example.
fn event(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(file)
}

/// What a function printed: its log lines and EMF documents, read by the test kit, and its
/// answer (the last line).
#[derive(Debug)]
struct Run {
    answer: Value,
    lines: Vec<LogLine>,
    documents: Vec<Value>,
    stdout: String,
}

impl Run {
    /// The one log line with this message: its keys and values.
    fn line(&self, message: &str) -> &Value {
        &Logs::new(&self.lines).message(message).assert_one().fields
    }

    /// The HTTP answer's body, decoded.
    fn body(&self) -> Value {
        let body = self.answer["body"].as_str().unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|error| panic!("{error}: {body}"))
    }

    /// Every line written while the event was handled carries `correlation_id`.
    fn assert_correlated(&self, correlation_id: &str) {
        let invocation = Logs::new(&self.lines).with_key("function_request_id");
        assert!(invocation.count() > 0, "{}", self.stdout);
        assert_eq!(
            invocation.count(),
            invocation.with("correlation_id", correlation_id).count(),
            "every invocation line has the correlation id {correlation_id}:\n{}",
            self.stdout
        );
    }
}

/// Runs `binary` in local mode on `event`, with only `PATH` and `env` set.
async fn run(binary: &str, event: &Path, env: &[(&str, &str)]) -> Run {
    let path = match binary {
        "api" => env!("CARGO_BIN_EXE_api"),
        _ => env!("CARGO_BIN_EXE_processor"),
    };
    let mut command = tokio::process::Command::new(path);
    command
        .arg(event)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(FUNCTION_RUN, command.output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{binary} did not finish within {} s",
                FUNCTION_RUN.as_secs()
            )
        })
        .expect("the function's binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{binary} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    // The answer is the last line; the lines before it are the logs and the EMF documents.
    let (written, last) = stdout
        .trim_end()
        .rsplit_once('\n')
        .unwrap_or(("", stdout.trim_end()));
    let answer = serde_json::from_str(last).unwrap_or_else(|error| panic!("{error}: {last}"));
    Run {
        answer,
        lines: log_lines(written),
        documents: emf_documents(written),
        stdout,
    }
}

/// The value of a run's metric, when one of its documents has it.
fn metric(run: &Run, name: &str) -> Option<f64> {
    Metrics::new(&run.documents)
        .named(name)
        .values()
        .first()
        .copied()
}

#[tokio::test]
async fn the_api_accepts_a_task_with_202_and_logs_the_event_it_would_send() {
    let api = run("api", &event("create-task.json"), &[]).await;
    assert_eq!(api.answer["statusCode"], 202, "{}", api.stdout);
    let body = api.body();
    let id = body["id"].as_str().expect("the task's id").to_owned();
    assert!(is_task_id(&id), "{id}");
    assert_eq!(body, json!({"id": id, "status": "pending"}));
    assert_eq!(api.answer["headers"]["location"], format!("/tasks/{id}"));
    assert_eq!(api.answer["headers"]["content-type"], "application/json");
    assert_eq!(api.answer["headers"]["x-correlation-id"], CREATE_ID);

    let invoke = api.line("local mode: the invocation of `task-processor` is not sent");
    assert_eq!(invoke["level"], "INFO");
    assert_eq!(invoke["function"], "task-processor");
    assert_eq!(invoke["invocation_type"], "Event");
    let payload: Value = serde_json::from_str(invoke["payload"].as_str().unwrap()).unwrap();
    assert_eq!(
        payload,
        json!({
            "id": id,
            "type": "resize",
            "input": {"image": "uploads/harbour.jpg", "width": 4032, "height": 3024, "maxSide": 1024},
            "_helve": {"correlation_id": CREATE_ID},
        })
    );
    let accepted = api.line(&format!("task {id} accepted and sent to `task-processor`"));
    assert_eq!(
        (accepted["task_id"].as_str(), accepted["task_type"].as_str()),
        (Some(id.as_str()), Some("resize"))
    );
    api.assert_correlated(CREATE_ID);
    assert_eq!(metric(&api, "TasksAccepted"), Some(1.0));
}

#[tokio::test]
async fn the_processor_completes_the_event_the_api_sent_under_the_same_correlation_id() {
    let api = run("api", &event("create-task.json"), &[]).await;
    let invoke = api.line("local mode: the invocation of `task-processor` is not sent");
    let payload = invoke["payload"].as_str().unwrap();
    let id = api.body()["id"].as_str().unwrap().to_owned();
    let sent = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sent-{id}.json"));
    std::fs::write(&sent, payload).unwrap();

    let processor = run("processor", &sent, &[("WORK_MILLIS", "10")]).await;
    let _ = std::fs::remove_file(&sent);
    // Its own memory: the task the API wrote is not there, so it is recorded from its event.
    processor.line(&format!(
        "task {id} has no record: it is recorded from its event"
    ));
    processor.line(&format!("task {id} started: resize, attempt 1"));
    processor.line(&format!("task {id} completed"));
    processor.assert_correlated(CREATE_ID);
    let task = &processor.answer;
    assert_eq!(task["id"], id.as_str());
    assert_eq!(task["status"], "completed");
    assert_eq!(
        task["result"],
        json!({"image": "uploads/harbour.jpg", "thumbnail": "thumbnails/1024/uploads/harbour.jpg", "width": 1024, "height": 768})
    );
    assert!(task.get("_helve").is_none() && task["input"].get("_helve").is_none());
    assert_eq!(metric(&processor, "TasksCompleted"), Some(1.0));
}

#[tokio::test]
async fn the_processor_completes_process_task_json() {
    let processor = run("processor", &event("process-task.json"), &[]).await;
    let mut task = processor.answer.clone();
    for time in ["createdAt", "updatedAt"] {
        assert!(
            task[time].as_u64().is_some_and(|ms| ms > 1_700_000_000_000),
            "{task}"
        );
        task[time] = json!(0);
    }
    assert_eq!(
        task,
        json!({
            "id": "4f6c2d8e-1b3a-4e5f-9c7d-2a8b6e4f0c13",
            "type": "resize",
            "status": "completed",
            "input": {"image": "uploads/harbour.jpg", "width": 4032, "height": 3024, "maxSide": 1024},
            "result": {"image": "uploads/harbour.jpg", "thumbnail": "thumbnails/1024/uploads/harbour.jpg", "width": 1024, "height": 768},
            "attempts": 1,
            "createdAt": 0,
            "updatedAt": 0,
        })
    );
    // The correlation id the API sent along, in `_helve`.
    processor.assert_correlated(CREATE_ID);
}

#[tokio::test]
async fn a_task_whose_work_fails_is_failed_and_the_invocation_succeeds() {
    let processor = run("processor", &event("process-failing-task.json"), &[]).await;
    let id = "9a1e7c3b-5d2f-4b8a-8e6c-1f3d5b7a9c24";
    assert_eq!(processor.answer["status"], "failed");
    assert_eq!(
        processor.answer["error"],
        json!({"type": "tasks.WorkFailed", "message": "the work failed, as the input asks (`\"fail\": true`)"})
    );
    assert!(processor.answer.get("result").is_none());
    let warn = processor.line(&format!(
        "task {id} failed: the work failed, as the input asks (`\"fail\": true`)"
    ));
    assert_eq!(
        (warn["level"].as_str(), warn["error_type"].as_str()),
        (Some("WARN"), Some("tasks.WorkFailed"))
    );
    processor.assert_correlated("Lx2eWpT6IAMEhXg=");
    assert_eq!(metric(&processor, "TasksFailed"), Some(1.0));
}

#[tokio::test]
async fn a_task_of_an_unknown_type_is_failed_saying_so() {
    let processor = run("processor", &event("process-unknown-type.json"), &[]).await;
    assert_eq!(processor.answer["status"], "failed");
    assert_eq!(
        processor.answer["error"],
        json!({"type": "tasks.UnknownType", "message": "unknown task type `transcode`; this processor does `report` and `resize`"})
    );
}

#[tokio::test]
async fn the_event_of_a_completed_task_is_acknowledged_and_skipped() {
    let processor = run("processor", &event("process-completed-task.json"), &[]).await;
    let sample = Task::sample();
    let skipped = processor.line(&format!(
        "task {} is already completed: the event is acknowledged and skipped",
        sample.id
    ));
    assert_eq!(skipped["level"], "INFO");
    assert_eq!(
        processor.answer,
        serde_json::to_value(&sample).unwrap(),
        "unchanged"
    );
    assert!(
        Logs::new(&processor.lines).containing("started").count() == 0,
        "no work: {}",
        processor.stdout
    );
    assert_eq!(metric(&processor, "TasksSkipped"), Some(1.0));
}

#[tokio::test]
async fn get_task_json_answers_the_sample_task_and_an_unknown_id_is_404() {
    let get = run("api", &event("get-task.json"), &[]).await;
    assert_eq!(get.answer["statusCode"], 200, "{}", get.stdout);
    assert_eq!(get.body(), serde_json::to_value(Task::sample()).unwrap());

    let missing = run("api", &event("get-missing-task.json"), &[]).await;
    assert_eq!(missing.answer["statusCode"], 404);
    assert_eq!(
        missing.answer["headers"]["content-type"],
        "application/problem+json"
    );
    let mut problem = missing.body();
    assert!(problem["request_id"].take().is_string());
    assert_eq!(
        problem,
        json!({
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": "task 7c9e6679-7425-40de-944b-e07fc1f90ae7 not found",
            "instance": "/tasks/7c9e6679-7425-40de-944b-e07fc1f90ae7",
            "code": "task_not_found",
            "request_id": null,
            "correlation_id": "Lx2dNfR2IAMEgTw=",
        })
    );
}

#[tokio::test]
async fn an_invalid_task_is_a_422_that_shows_nothing_it_was_sent() {
    let api = run("api", &event("invalid-task.json"), &[]).await;
    assert_eq!(api.answer["statusCode"], 422, "{}", api.stdout);
    let mut problem = api.body();
    assert!(problem["request_id"].take().is_string());
    assert_eq!(
        problem,
        json!({
            "type": "about:blank",
            "title": "Unprocessable Entity",
            "status": 422,
            "detail": "the request body failed validation",
            "instance": "/tasks",
            "code": "validation_failed",
            "errors": [{"field": "type", "code": "task_type", "message": "must be `report` or `resize`"}],
            "request_id": null,
            "correlation_id": "Lx2bKhZ3oAMEc5Q=",
        })
    );
    for sent in ["transcode", "hunter2", "launch.mov"] {
        assert!(
            !api.stdout.contains(sent),
            "`{sent}` is shown:\n{}",
            api.stdout
        );
    }
    assert!(
        !api.stdout.contains("invocation of"),
        "nothing is sent for a task that is refused"
    );
}

#[tokio::test]
async fn a_store_that_fails_answers_503_and_only_the_logs_say_why() {
    let api = run(
        "api",
        &event("create-task.json"),
        &[("TASKS_STORE_UNAVAILABLE", "1")],
    )
    .await;
    assert_eq!(api.answer["statusCode"], 503);
    let problem = api.body();
    assert_eq!(problem["code"], "store_unavailable");
    assert!(problem.get("detail").is_none(), "{problem}");
    let error = api.line(
        "the request failed with 503 Service Unavailable: the task store is unavailable: the \
         in-memory store is made unavailable (TASKS_STORE_UNAVAILABLE)",
    );
    assert_eq!(error["level"], "ERROR");
    assert!(!api.stdout.contains("invocation of"), "nothing is sent");
}
