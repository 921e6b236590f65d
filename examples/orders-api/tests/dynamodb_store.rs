//! The DynamoDB order store against moto, a local DynamoDB, on 127.0.0.1: the same contract as
//! the in-memory store, and both functions keeping their orders in the table `ORDERS_TABLE`
//! names, with the conditional write that answers 409.
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
use example_orders_api::{DynamoDbStore, Order, OrderStore};
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
        .http_client(aws_smithy_http_client::Builder::new().build_http())
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
    create_table(&client, "orders").await;
    common::all(&DynamoDbStore::new(client, "orders"), "dynamodb").await;
}

#[tokio::test]
async fn the_functions_keep_their_orders_in_the_table_orders_table_names() {
    let Some(moto) =
        moto_or_skip("the_functions_keep_their_orders_in_the_table_orders_table_names")
    else {
        return;
    };
    let client = client(&moto.endpoint);
    create_table(&client, "shop-orders").await;
    let store = DynamoDbStore::new(client, "shop-orders");
    // A DynamoDB table starts empty: the sample order is written here as a client would.
    store.create(&Order::sample()).await.unwrap();

    let get = run(&moto, "get-order", "shop-orders", &event("get.json")).await;
    assert_eq!(get.status(), 200, "{}", get.stdout);
    assert_eq!(get.body(), serde_json::to_value(Order::sample()).unwrap());

    let created = run(&moto, "create-order", "shop-orders", &event("create.json")).await;
    assert_eq!(created.status(), 201, "{}", created.stdout);
    assert_eq!(created.header("location"), "/orders/o-1002");
    let stored = store
        .get("o-1002")
        .await
        .unwrap()
        .expect("the order is in the table");
    assert_eq!(created.body(), serde_json::to_value(&stored).unwrap());

    // Another process, the same table: the id is taken, and the conditional write says so.
    let again = run(&moto, "create-order", "shop-orders", &event("create.json")).await;
    assert_eq!(again.status(), 409, "{}", again.stdout);
    assert_eq!(again.body()["code"], "order_exists");
    assert_eq!(again.body()["detail"], "order o-1002 already exists");
    assert_eq!(
        store.get("o-1002").await.unwrap(),
        Some(stored.clone()),
        "the first order is kept as it was"
    );
    let conflict = run(
        &moto,
        "create-order",
        "shop-orders",
        &event("create-conflict.json"),
    )
    .await;
    assert_eq!(conflict.status(), 409, "{}", conflict.stdout);
    assert_eq!(conflict.body()["detail"], "order o-1001 already exists");

    // `get-order` finds what `create-order` wrote.
    let get_created = run(&moto, "get-order", "shop-orders", &get_event("o-1002")).await;
    assert_eq!(get_created.status(), 200, "{}", get_created.stdout);
    assert_eq!(get_created.body(), serde_json::to_value(&stored).unwrap());
    let missing = run(
        &moto,
        "get-order",
        "shop-orders",
        &event("get-missing.json"),
    )
    .await;
    assert_eq!(missing.status(), 404, "{}", missing.stdout);
}

#[tokio::test]
async fn a_store_that_fails_answers_503_and_only_the_logs_say_why() {
    let Some(moto) = moto_or_skip("a_store_that_fails_answers_503_and_only_the_logs_say_why")
    else {
        return;
    };
    // No such table: every call fails with ResourceNotFoundException.
    let failed = run(
        &moto,
        "create-order",
        "no-such-table",
        &event("create.json"),
    )
    .await;
    assert_eq!(failed.status(), 503, "{}", failed.stdout);
    let mut body = failed.body();
    let request_id = body["request_id"].take();
    assert!(request_id.is_string(), "{body}");
    assert_eq!(
        body,
        json!({
            "type": "about:blank",
            "title": "Service Unavailable",
            "status": 503,
            "instance": "/orders",
            "code": "store_unavailable",
            "request_id": null,
            "correlation_id": "Kx7bJgH1IAMEVxw=",
        })
    );
    let error = failed
        .stdout
        .lines()
        .find(|line| line.contains(r#""level":"ERROR""#))
        .unwrap_or_else(|| panic!("an ERROR line:\n{}", failed.stdout));
    let error: Value = serde_json::from_str(error).unwrap();
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "the request failed with 503 Service Unavailable: the order store is unavailable: \
             service error: "
        ) && message.contains("ResourceNotFoundException"),
        "{message}"
    );
    assert_eq!(error["code"], "store_unavailable");
}

/// An event file of the example.
fn event(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(file)
}

/// `get.json` for the order `id`, written beside moto's logs.
fn get_event(id: &str) -> PathBuf {
    let text = std::fs::read_to_string(event("get.json")).unwrap();
    let mut event: Value = serde_json::from_str(&text).unwrap();
    event["rawPath"] = json!(format!("/orders/{id}"));
    event["requestContext"]["http"]["path"] = json!(format!("/orders/{id}"));
    event["pathParameters"]["id"] = json!(id);
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("get-{id}.json"));
    std::fs::write(&path, event.to_string()).unwrap();
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

    fn header(&self, name: &str) -> &str {
        self.response["headers"][name].as_str().unwrap_or_default()
    }

    fn body(&self) -> Value {
        let body = self.response["body"].as_str().unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|error| panic!("{error}: {body}"))
    }
}

/// Runs a function locally on an event file, with `ORDERS_TABLE` and `AWS_ENDPOINT_URL`
/// pointing at moto.
async fn run(moto: &Moto, binary: &str, table: &str, event: &Path) -> Answer {
    let path = match binary {
        "create-order" => env!("CARGO_BIN_EXE_create-order"),
        _ => env!("CARGO_BIN_EXE_get-order"),
    };
    let mut command = tokio::process::Command::new(path);
    command
        .arg(event)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ORDERS_TABLE", table)
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
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
        "{binary} failed ({}):\n{stdout}\n{}\n--- moto ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        moto.output()
    );
    let last = stdout.lines().last().unwrap_or_default();
    let response = serde_json::from_str(last).unwrap_or_else(|error| panic!("{error}: {last}"));
    Answer { response, stdout }
}
