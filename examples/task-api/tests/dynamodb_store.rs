//! The DynamoDB task store against moto, a local DynamoDB, on 127.0.0.1: the same contract as
//! the in-memory store, and both functions sharing the table `TASKS_TABLE` names, so that a
//! task the API accepts is the one the processor completes, and a second delivery of its event,
//! in another process, does no work.
//!
//! Needs moto's server: `python3 -m pip install "moto[server]"`. Without it the tests say they
//! are skipped and pass, except on CI (`CI` set), where they fail.

#![cfg(feature = "dynamodb")]

mod common;

use std::{
    fs::File,
    io::Write,
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use aws_sdk_dynamodb::{
    Client,
    config::{BehaviorVersion, Credentials, Region, timeout::TimeoutConfig},
    types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType},
};
use example_task_api::{DynamoDbStore, Status, TaskStore};
use serde_json::{Value, json};

/// How long moto may take to answer after it starts (it imports a lot of Python).
const MOTO_START: Duration = Duration::from_secs(60);
/// How long a function may take on one event file: a guard against hangs.
const FUNCTION_RUN: Duration = Duration::from_secs(60);

/// moto's server, killed when dropped.
#[derive(Debug)]
struct Moto {
    child: Child,
    endpoint: String,
    log: PathBuf,
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Already exited is fine: there is nothing left to stop.
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Keep moto's log only when a test failed, to read why.
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

impl Moto {
    /// Starts `python3 -m moto.server` on a free port of 127.0.0.1 and waits until it accepts
    /// connections. `Err` says why it could not.
    fn start() -> Result<Moto, String> {
        match Command::new("python3")
            .args(["-c", "import moto.server"])
            .output()
        {
            Ok(output) if output.status.success() => {}
            Ok(_) => return Err("moto is not installed".to_owned()),
            Err(error) => return Err(format!("python3 cannot be run ({error})")),
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|error| format!("no free port on 127.0.0.1: {error}"))?
            .port();
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("moto-{port}.log"));
        let log_file = File::create(&log)
            .map_err(|error| format!("cannot create {}: {error}", log.display()))?;
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|error| format!("cannot start python3 -m moto.server: {error}"))?;
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!(
                    "moto's server exited ({status}) before it answered:\n{}",
                    moto.output()
                ));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(moto);
            }
            if started.elapsed() > MOTO_START {
                return Err(format!(
                    "moto's server did not answer on {addr} within {} s:\n{}",
                    MOTO_START.as_secs(),
                    moto.output()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What moto wrote, for a failure message.
    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// moto, or `None` when it cannot be started and the test is to be skipped; on CI that fails
/// the test instead.
fn moto_or_skip(test: &str) -> Option<Moto> {
    match Moto::start() {
        Ok(moto) => Some(moto),
        Err(reason) if std::env::var_os("CI").is_some() => panic!(
            "{test}: moto is needed on CI and could not be started: {reason}\n\
             install it with: python3 -m pip install \"moto[server]\""
        ),
        Err(reason) => {
            let line = if reason == "moto is not installed" {
                format!("{test}: skipped: moto is not installed (pip install \"moto[server]\")")
            } else {
                format!("{test}: skipped: moto could not be started: {reason}")
            };
            // Straight to stderr, past the test harness's capture, so the skip is seen.
            let _ = writeln!(std::io::stderr(), "{line}");
            None
        }
    }
}

fn client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .http_client(helve::aws::https_client())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(10))
                .build(),
        )
        .build();
    Client::from_conf(config)
}

/// The table of `template.yaml`: partition key `id`, a string; on demand.
async fn create_table(client: &Client, table: &str) {
    client
        .create_table()
        .table_name(table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("a complete attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .expect("a complete key schema"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap_or_else(|error| {
            panic!(
                "cannot create the table {table}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(error)
            )
        });
}

#[tokio::test]
async fn the_dynamodb_store_keeps_its_contract() {
    let Some(moto) = moto_or_skip("the_dynamodb_store_keeps_its_contract") else {
        return;
    };
    let client = client(&moto.endpoint);
    create_table(&client, "tasks").await;
    common::all(&DynamoDbStore::new(client, "tasks")).await;
}

#[tokio::test]
async fn the_functions_share_the_table_and_a_second_delivery_does_no_work() {
    let Some(moto) =
        moto_or_skip("the_functions_share_the_table_and_a_second_delivery_does_no_work")
    else {
        return;
    };
    let client = client(&moto.endpoint);
    create_table(&client, "shop-tasks").await;
    let store = DynamoDbStore::new(client, "shop-tasks");

    let created = run(&moto, "api", "shop-tasks", &event("create-task.json")).await;
    assert_eq!(created.status(), 202, "{}", created.stdout);
    let id = created.body()["id"].as_str().unwrap().to_owned();
    let pending = store
        .get(&id)
        .await
        .unwrap()
        .expect("the task is in the table");
    assert_eq!(pending.status, Status::Pending);

    let get = run(&moto, "api", "shop-tasks", &get_event(&id)).await;
    assert_eq!(get.status(), 200, "{}", get.stdout);
    assert_eq!(get.body()["status"], "pending");

    // The event the API would have sent, as Lambda delivers it to the processor.
    let sent = sent_event(&created, &id);
    let processed = run(&moto, "processor", "shop-tasks", &sent).await;
    assert_eq!(
        processed.response["status"], "completed",
        "{}",
        processed.stdout
    );
    assert!(
        !processed.stdout.contains("has no record"),
        "the processor found the API's record"
    );
    let done = store.get(&id).await.unwrap().expect("the task");
    assert_eq!(done.status, Status::Completed);
    assert_eq!(
        done.result,
        Some(
            json!({"image": "uploads/harbour.jpg", "thumbnail": "thumbnails/1024/uploads/harbour.jpg", "width": 1024, "height": 768})
        )
    );
    assert_eq!((done.attempts, done.created_at), (1, pending.created_at));

    // Lambda delivers the event again, to another execution environment: nothing is done.
    let again = run(&moto, "processor", "shop-tasks", &sent).await;
    assert!(
        again.stdout.contains(&format!(
            "task {id} is already completed: the event is acknowledged and skipped"
        )),
        "{}",
        again.stdout
    );
    assert_eq!(
        store.get(&id).await.unwrap(),
        Some(done.clone()),
        "unchanged"
    );

    let get = run(&moto, "api", "shop-tasks", &get_event(&id)).await;
    assert_eq!(get.body(), serde_json::to_value(&done).unwrap());
    let _ = std::fs::remove_file(sent);
}

#[tokio::test]
async fn a_store_that_fails_answers_503_and_fails_the_processors_invocation() {
    let Some(moto) =
        moto_or_skip("a_store_that_fails_answers_503_and_fails_the_processors_invocation")
    else {
        return;
    };
    // No such table: every call fails with ResourceNotFoundException.
    let failed = run(&moto, "api", "no-such-table", &event("create-task.json")).await;
    assert_eq!(failed.status(), 503, "{}", failed.stdout);
    assert_eq!(failed.body()["code"], "store_unavailable");
    assert!(failed.body().get("detail").is_none());
    assert!(
        failed.stdout.contains("ResourceNotFoundException"),
        "{}",
        failed.stdout
    );

    let processor = run_failing(
        &moto,
        "processor",
        "no-such-table",
        &event("process-task.json"),
    )
    .await;
    let error: Value = serde_json::from_str(processor.trim()).unwrap();
    assert_eq!(error["errorType"], "tasks.StoreUnavailable");
}

/// An event file of the example.
fn event(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(file)
}

/// `get-task.json` for the task `id`, written beside moto's logs.
fn get_event(id: &str) -> PathBuf {
    let text = std::fs::read_to_string(event("get-task.json")).unwrap();
    let mut event: Value = serde_json::from_str(&text).unwrap();
    event["rawPath"] = json!(format!("/tasks/{id}"));
    event["requestContext"]["http"]["path"] = json!(format!("/tasks/{id}"));
    event["pathParameters"]["id"] = json!(id);
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("get-{id}.json"));
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

/// The payload the API logged in local mode for task `id`, written to a file.
fn sent_event(api: &Answer, id: &str) -> PathBuf {
    let payload = api
        .stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find_map(|line| line["payload"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("the logged invocation:\n{}", api.stdout));
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("process-{id}.json"));
    std::fs::write(&path, payload).unwrap();
    path
}

/// What a function answered, and everything it printed.
#[derive(Debug)]
struct Answer {
    response: Value,
    stdout: String,
}

impl Answer {
    fn status(&self) -> u64 {
        self.response["statusCode"].as_u64().unwrap_or_default()
    }

    fn body(&self) -> Value {
        let body = self.response["body"].as_str().unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|error| panic!("{error}: {body}"))
    }
}

/// The command running a function locally on an event file, with `TASKS_TABLE` and
/// `AWS_ENDPOINT_URL` pointing at moto.
fn command(moto: &Moto, binary: &str, table: &str, event: &Path) -> tokio::process::Command {
    let path = match binary {
        "api" => env!("CARGO_BIN_EXE_api"),
        _ => env!("CARGO_BIN_EXE_processor"),
    };
    let mut command = tokio::process::Command::new(path);
    command
        .arg(event)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TASKS_TABLE", table)
        .env("WORK_MILLIS", "10")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// What the function printed, once it has exited.
async fn output(binary: &str, mut command: tokio::process::Command) -> std::process::Output {
    tokio::time::timeout(FUNCTION_RUN, command.output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{binary} did not finish within {} s",
                FUNCTION_RUN.as_secs()
            )
        })
        .expect("the function's binary runs")
}

/// Runs a function that succeeds; its answer is the last line of stdout.
async fn run(moto: &Moto, binary: &str, table: &str, event: &Path) -> Answer {
    let output = output(binary, command(moto, binary, table, event)).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{binary} failed ({}):\n{stdout}\n{}\n--- moto ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        moto.output()
    );
    let last = stdout.lines().last().unwrap_or_default();
    let response = serde_json::from_str(last).unwrap_or_else(|error| panic!("{error}: {last}"));
    Answer { response, stdout }
}

/// Runs a function whose invocation fails: its stderr, the error as Lambda records it.
async fn run_failing(moto: &Moto, binary: &str, table: &str, event: &Path) -> String {
    let output = output(binary, command(moto, binary, table, event)).await;
    assert!(!output.status.success(), "{binary} succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}
