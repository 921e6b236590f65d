//! The DynamoDB job store against moto, a local DynamoDB, on 127.0.0.1: the same transitions
//! as the in-memory store, and the worker binary keeping its jobs in the table `JOBS_TABLE`
//! names.
//!
//! Needs moto's server: `python3 -m pip install "moto[server]"`. Without it the tests say they
//! are skipped and pass, except on CI (`CI` set), where they fail.

#![cfg(feature = "dynamodb")]

mod common;

use std::{
    fs::File,
    io::Write,
    net::{SocketAddr, TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use aws_sdk_dynamodb::{
    Client,
    config::{BehaviorVersion, Credentials, Region, timeout::TimeoutConfig},
    types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType},
};
use example_sqs_worker::{DynamoDbStore, Job, JobKind, JobMessage, JobStore, Status, now_ms};
use serde_json::Value;

/// How long moto may take to answer after it starts (it imports a lot of Python).
const MOTO_START: Duration = Duration::from_secs(60);
/// How long the worker binary may take on one event file: a guard against hangs.
const WORKER_RUN: Duration = Duration::from_secs(60);

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
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(10))
                .build(),
        )
        .build();
    Client::from_conf(config)
}

/// The table of `template.yaml`: partition key `jobId`, a string; on demand.
async fn create_table(client: &Client, table: &str) {
    client
        .create_table()
        .table_name(table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("jobId")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("a complete attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("jobId")
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
async fn the_dynamodb_store_makes_every_transition() {
    let Some(moto) = moto_or_skip("the_dynamodb_store_makes_every_transition") else {
        return;
    };
    let client = client(&moto.endpoint);
    create_table(&client, "jobs").await;
    let store = DynamoDbStore::new(client, "jobs");
    common::all(&store, "dynamodb").await;
}

#[tokio::test]
async fn the_worker_keeps_its_jobs_in_the_table_jobs_table_names() {
    let Some(moto) = moto_or_skip("the_worker_keeps_its_jobs_in_the_table_jobs_table_names") else {
        return;
    };
    let client = client(&moto.endpoint);
    create_table(&client, "worker-jobs").await;
    let store = DynamoDbStore::new(client, "worker-jobs");
    // The API wrote the first job's record; the others have none, and start from their message.
    let api_job = JobMessage {
        job_id: "job-2f9c1a".to_owned(),
        kind: JobKind::Report,
        steps: 4,
        format: None,
    };
    store
        .create(&Job::pending(&api_job, now_ms()))
        .await
        .unwrap();

    let event = concat!(env!("CARGO_MANIFEST_DIR"), "/events/batch.json");
    let first = run_worker(&moto, event).await;
    assert_eq!(
        response(&first),
        serde_json::json!({"batchItemFailures": []}),
        "{first}"
    );
    for (job_id, result) in [
        ("job-2f9c1a", "reports/job-2f9c1a.pdf"),
        ("job-7d41e0", "exports/job-7d41e0.csv"),
        ("job-b6e803", "exports/job-b6e803.json"),
    ] {
        let job = store.get(job_id).await.unwrap().expect("a record");
        assert_eq!(job.status, Status::Completed, "{job_id}: {job:?}");
        assert_eq!(job.result.as_deref(), Some(result));
        assert_eq!((job.progress, job.attempts), (100, 1));
    }

    // The same batch again, as SQS redelivers it: every job is already completed, nothing runs.
    let second = run_worker(&moto, event).await;
    assert_eq!(
        response(&second),
        serde_json::json!({"batchItemFailures": []})
    );
    let skipped = second
        .lines()
        .filter(|line| line.contains("is already completed: nothing to do"))
        .count();
    assert_eq!(skipped, 3, "{second}");
    let job = store.get("job-2f9c1a").await.unwrap().expect("a record");
    assert_eq!(job.attempts, 1, "a finished job is not started again");
}

/// Runs the worker binary locally on an event file, with `JOBS_TABLE` and `AWS_ENDPOINT_URL`
/// pointing at moto; returns its stdout.
async fn run_worker(moto: &Moto, event: &str) -> String {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_example-sqs-worker"));
    command
        .arg(event)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("JOBS_TABLE", "worker-jobs")
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("STEP_MILLIS", "10")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(WORKER_RUN, command.output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the worker did not finish within {} s",
                WORKER_RUN.as_secs()
            )
        })
        .expect("the worker binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the worker failed ({}):\n{stdout}\n{}\n--- moto ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        moto.output()
    );
    stdout
}

/// The response: the last line of stdout.
fn response(stdout: &str) -> Value {
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|error| panic!("{error}: {last}"))
}
