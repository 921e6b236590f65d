//! helve's DynamoDB idempotency store against moto's DynamoDB on 127.0.0.1, through a proxy
//! that counts the calls: two for a first execution, one for a replay; duplicates at once run
//! the function once; an expired record runs again; a changed payload fails validation; an
//! execution near its deadline releases its record; a response too large for an item is not
//! stored; a failed condition without the item is read back with `GetItem`; and a Powertools
//! Python function sharing the table replays helve's responses, and helve replays its.
//!
//! Needs moto (`python3 -m pip install "moto[server]"`) and, for the Powertools test,
//! `aws-lambda-powertools` and `boto3`: without them the tests say they are skipped, except on
//! CI, where they fail.

mod support;

use std::{
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use aws_sdk_dynamodb::{
    Client,
    config::{BehaviorVersion, Credentials, Region, timeout::TimeoutConfig},
    error::DisplayErrorContext,
    types::AttributeValue,
};
use helve::{
    Context,
    idempotency::{DynamoDbStore, Idempotency, IdempotencyError, Store},
};
use serde_json::{Value, json};
use support::{DynamoDbProxy, Moto, create_table};

const TABLE: &str = "idempotency";

/// moto, a proxy in front of it, and a client of the proxy, with the table made.
struct Setup {
    moto: Moto,
    proxy: DynamoDbProxy,
    client: Client,
}

impl Setup {
    async fn start(test: &str) -> Option<Setup> {
        let moto = Moto::start_or_skip(test)?;
        let proxy = DynamoDbProxy::start(moto.endpoint()).await;
        let client = client(proxy.endpoint());
        create_table(&client, TABLE, "id").await;
        proxy.take_calls();
        Some(Setup {
            moto,
            proxy,
            client,
        })
    }

    fn idempotency(&self, prefix: &str) -> Idempotency {
        Idempotency::new(DynamoDbStore::new(self.client.clone(), TABLE)).key_prefix(prefix)
    }

    /// The table's item of `key`, read past the proxy (not counted).
    async fn item(&self, key: &str) -> Option<std::collections::HashMap<String, AttributeValue>> {
        client(self.moto.endpoint())
            .get_item()
            .table_name(TABLE)
            .key("id", AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .unwrap_or_else(|error| panic!("GetItem failed: {}", DisplayErrorContext(error)))
            .item
    }

    /// Writes `item` straight into the table (not counted).
    async fn put(&self, item: &[(&str, AttributeValue)]) {
        let mut request = client(self.moto.endpoint()).put_item().table_name(TABLE);
        for (name, value) in item {
            request = request.item(*name, value.clone());
        }
        request
            .send()
            .await
            .unwrap_or_else(|error| panic!("PutItem failed: {}", DisplayErrorContext(error)));
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

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or_default()
}

fn number(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> u64 {
    match item.get(name) {
        Some(AttributeValue::N(text)) => text.parse().expect("a whole number"),
        other => panic!("`{name}` is not a number: {other:?}"),
    }
}

fn string<'a>(item: &'a std::collections::HashMap<String, AttributeValue>, name: &str) -> &'a str {
    match item.get(name) {
        Some(AttributeValue::S(text)) => text,
        other => panic!("`{name}` is not a string: {other:?}"),
    }
}

type Outcome = Result<Value, IdempotencyError<helve::Error>>;

/// Creates `order` once under `idempotency`, counting the runs in `runs`.
async fn create(idempotency: &Idempotency, order: &Value, runs: &AtomicUsize) -> Outcome {
    idempotency
        .once(order, || async {
            let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(json!({"order_id": order["order_id"], "run": run}))
        })
        .await
}

#[tokio::test]
async fn a_first_execution_makes_two_calls_and_a_replay_one() {
    let Some(setup) = Setup::start("a_first_execution_makes_two_calls_and_a_replay_one").await
    else {
        return;
    };
    let idempotency = setup.idempotency("orders.create");
    let runs = AtomicUsize::new(0);
    let order = json!({"order_id": "o-1", "amount": 5});
    let context = Context::builder().timeout(Duration::from_secs(30)).build();
    let first = context
        .clone()
        .scope(create(&idempotency, &order, &runs))
        .await
        .expect("the first execution runs");
    assert_eq!(first, json!({"order_id": "o-1", "run": 1}));
    assert_eq!(setup.proxy.take_calls(), ["PutItem", "UpdateItem"]);

    let key = idempotency.key_of(&order).expect("a key");
    let item = setup.item(&key).await.expect("the record is in the table");
    assert_eq!(string(&item, "status"), "COMPLETED");
    assert_eq!(string(&item, "data"), r#"{"order_id": "o-1", "run": 1}"#);
    let expiration = number(&item, "expiration");
    assert!(
        (now_seconds() + 3590..=now_seconds() + 3600).contains(&expiration),
        "expiration is epoch seconds an hour ahead: {expiration}"
    );
    let in_progress_expiration = number(&item, "in_progress_expiration");
    assert!(
        in_progress_expiration / 1000 >= now_seconds() + 20
            && in_progress_expiration / 1000 <= now_seconds() + 30,
        "in_progress_expiration is the invocation's deadline in epoch milliseconds: {in_progress_expiration}"
    );

    let replay = context
        .scope(create(&idempotency, &order, &runs))
        .await
        .expect("the retry is replayed");
    assert_eq!(replay, first);
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the function ran once");
    assert_eq!(
        setup.proxy.take_calls(),
        ["PutItem"],
        "the failed condition brings the record back: no GetItem"
    );
}

#[tokio::test]
async fn a_failed_condition_without_the_item_is_read_back_with_a_consistent_get() {
    let Some(setup) =
        Setup::start("a_failed_condition_without_the_item_is_read_back_with_a_consistent_get")
            .await
    else {
        return;
    };
    let idempotency = setup.idempotency("orders.create");
    let runs = AtomicUsize::new(0);
    let order = json!({"order_id": "o-2"});
    create(&idempotency, &order, &runs).await.expect("runs");
    setup.proxy.take_calls();
    setup.proxy.strip_failed_condition_items();
    let replay = create(&idempotency, &order, &runs).await.expect("replayed");
    assert_eq!(replay, json!({"order_id": "o-2", "run": 1}));
    assert_eq!(setup.proxy.take_calls(), ["PutItem", "GetItem"]);
}

#[tokio::test]
async fn two_duplicates_at_once_run_the_function_once() {
    let Some(setup) = Setup::start("two_duplicates_at_once_run_the_function_once").await else {
        return;
    };
    let idempotency = setup.idempotency("orders.create");
    let runs = AtomicUsize::new(0);
    let order = json!({"order_id": "o-3"});
    let started = tokio::sync::Notify::new();
    let finish = tokio::sync::Notify::new();
    let slow = idempotency.once(&order, || async {
        runs.fetch_add(1, Ordering::SeqCst);
        started.notify_one();
        finish.notified().await;
        Ok::<_, helve::Error>(json!({"order_id": "o-3"}))
    });
    let duplicate = async {
        started.notified().await;
        let outcome = create(&idempotency, &order, &runs).await;
        finish.notify_one();
        outcome
    };
    let (first, second) = tokio::join!(slow, duplicate);
    assert_eq!(first.expect("the first runs"), json!({"order_id": "o-3"}));
    match second {
        Err(IdempotencyError::AlreadyInProgress { key }) => {
            assert_eq!(Some(key), idempotency.key_of(&order));
        }
        other => panic!("the duplicate is told the first is in progress, got {other:?}"),
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_expired_record_runs_the_function_again() {
    let Some(setup) = Setup::start("an_expired_record_runs_the_function_again").await else {
        return;
    };
    let idempotency = setup.idempotency("orders.create");
    let order = json!({"order_id": "o-4"});
    let key = idempotency.key_of(&order).expect("a key");
    setup
        .put(&[
            ("id", AttributeValue::S(key.clone())),
            ("status", AttributeValue::S("COMPLETED".into())),
            (
                "expiration",
                AttributeValue::N((now_seconds() - 10).to_string()),
            ),
            ("data", AttributeValue::S(r#"{"stale": true}"#.into())),
        ])
        .await;
    let runs = AtomicUsize::new(0);
    let outcome = create(&idempotency, &order, &runs)
        .await
        .expect("runs again");
    assert_eq!(outcome, json!({"order_id": "o-4", "run": 1}));
    let item = setup.item(&key).await.expect("the new record");
    assert_eq!(string(&item, "data"), r#"{"order_id": "o-4", "run": 1}"#);
}

#[tokio::test]
async fn a_replay_with_another_amount_fails_validation() {
    let Some(setup) = Setup::start("a_replay_with_another_amount_fails_validation").await else {
        return;
    };
    let idempotency = setup.idempotency("payments.charge");
    let key = json!("order-5");
    let charge = |amount: u64| {
        let idempotency = &idempotency;
        let key = &key;
        async move {
            idempotency
                .once_validated(key, &json!({"amount": amount}), || async move {
                    Ok::<_, helve::Error>(json!({"charged": amount}))
                })
                .await
        }
    };
    assert_eq!(charge(5).await.expect("charged"), json!({"charged": 5}));
    let item = setup
        .item(&idempotency.key_of(&key).expect("a key"))
        .await
        .expect("the record");
    assert_eq!(string(&item, "validation").len(), 32, "an md5 hex digest");
    assert_eq!(charge(5).await.expect("replayed"), json!({"charged": 5}));
    match charge(7).await {
        Err(IdempotencyError::ValidationFailed { .. }) => {}
        other => panic!("another amount fails validation, got {other:?}"),
    }
}

#[tokio::test]
async fn an_execution_near_its_deadline_releases_its_record_for_the_retry() {
    let Some(setup) =
        Setup::start("an_execution_near_its_deadline_releases_its_record_for_the_retry").await
    else {
        return;
    };
    let idempotency = setup
        .idempotency("orders.create")
        .release_margin(Duration::from_millis(500));
    let order = json!({"order_id": "o-6"});
    let context = Context::builder().timeout(Duration::from_secs(2)).build();
    let outcome = context
        .scope(idempotency.once(&order, || async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok::<_, helve::Error>(json!("never"))
        }))
        .await;
    assert!(
        matches!(outcome, Err(IdempotencyError::Released { .. })),
        "{outcome:?}"
    );
    assert_eq!(setup.proxy.take_calls(), ["PutItem", "DeleteItem"]);
    let key = idempotency.key_of(&order).expect("a key");
    assert_eq!(setup.item(&key).await, None, "the record is gone");
    let runs = AtomicUsize::new(0);
    let retry = create(&idempotency, &order, &runs)
        .await
        .expect("the retry runs at once");
    assert_eq!(retry, json!({"order_id": "o-6", "run": 1}));
}

#[tokio::test]
async fn a_response_too_large_for_an_item_goes_out_and_is_not_stored() {
    let Some(setup) =
        Setup::start("a_response_too_large_for_an_item_goes_out_and_is_not_stored").await
    else {
        return;
    };
    let idempotency = setup.idempotency("reports.build");
    let key = json!("report-7");
    let large = "x".repeat(420 * 1024);
    let runs = Arc::new(AtomicUsize::new(0));
    let build = || {
        let runs = runs.clone();
        let large = large.clone();
        async move {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok::<_, helve::Error>(json!({"report": large}))
        }
    };
    let first = idempotency
        .once(&key, build)
        .await
        .expect("the response goes out");
    assert_eq!(first["report"].as_str().map(str::len), Some(420 * 1024));
    assert_eq!(
        setup.proxy.take_calls(),
        ["PutItem", "DeleteItem"],
        "the record is released, not completed"
    );
    let second = idempotency.once(&key, build).await.expect("runs again");
    assert_eq!(second, first);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_record_in_progress_fails_a_duplicate_until_it_is_past_its_deadline() {
    let Some(setup) =
        Setup::start("a_record_in_progress_fails_a_duplicate_until_it_is_past_its_deadline").await
    else {
        return;
    };
    let idempotency = setup.idempotency("orders.create");
    let runs = AtomicUsize::new(0);
    let in_progress = |key: &str, deadline_ms: u64| {
        [
            ("id", AttributeValue::S(key.to_owned())),
            ("status", AttributeValue::S("INPROGRESS".into())),
            (
                "expiration",
                AttributeValue::N((now_seconds() + 3600).to_string()),
            ),
            (
                "in_progress_expiration",
                AttributeValue::N(deadline_ms.to_string()),
            ),
        ]
    };
    let order = json!({"order_id": "o-8"});
    let key = idempotency.key_of(&order).expect("a key");
    setup
        .put(&in_progress(&key, (now_seconds() + 60) * 1000))
        .await;
    let outcome = create(&idempotency, &order, &runs).await;
    assert!(
        matches!(outcome, Err(IdempotencyError::AlreadyInProgress { .. })),
        "{outcome:?}"
    );
    setup
        .put(&in_progress(&key, (now_seconds() - 1) * 1000))
        .await;
    let outcome = create(&idempotency, &order, &runs)
        .await
        .expect("taken over");
    assert_eq!(outcome, json!({"order_id": "o-8", "run": 1}));
}

#[tokio::test]
async fn a_store_that_cannot_be_reached_fails_the_request_as_a_store_error() {
    let store = DynamoDbStore::new(client("http://127.0.0.1:9"), TABLE);
    let error = store.get("orders#abc").await.err().map(|e| e.to_string());
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.starts_with("DynamoDB GetItem on table idempotency failed: ")),
        "{error:?}"
    );
}

/// Runs tests/python/powertools_orders.py: Powertools' own idempotent function on the table.
fn powertools(endpoint: &str, prefix: &str, order: &Value) -> Option<Value> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/powertools_orders.py"
    );
    let output = Command::new("python3")
        .args([script, endpoint, TABLE, prefix, &order.to_string()])
        .output()
        .expect("python3 runs");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("No module named") && std::env::var_os("CI").is_none() {
            eprintln!("skipped: Powertools or boto3 is not installed ({stderr})");
            return None;
        }
        panic!("the Powertools function failed:\n{stderr}");
    }
    Some(serde_json::from_slice(&output.stdout).expect("the script prints JSON"))
}

#[tokio::test]
async fn a_powertools_python_function_and_a_helve_function_share_their_records() {
    let Some(setup) =
        Setup::start("a_powertools_python_function_and_a_helve_function_share_their_records").await
    else {
        return;
    };
    let prefix = "shop.create_order";
    let idempotency = setup.idempotency(prefix);

    // helve first: Powertools replays helve's response without running its function.
    let order = json!({"order_id": "o-9", "note": "café", "quantity": 2, "price": 6.25});
    let runs = AtomicUsize::new(0);
    let helve_response = create(&idempotency, &order, &runs).await.expect("runs");
    let Some(python) = powertools(setup.moto.endpoint(), prefix, &order) else {
        return;
    };
    assert_eq!(python, json!({"result": helve_response, "ran": false}));

    // Powertools first: helve replays Powertools' response without running its function.
    let order = json!({"order_id": "o-10", "lines": [{"sku": "ü-1", "n": 1e-7}]});
    let python = powertools(setup.moto.endpoint(), prefix, &order).expect("runs");
    assert_eq!(python["ran"], json!(true));
    let replay = create(&idempotency, &order, &runs).await.expect("replayed");
    assert_eq!(replay, python["result"]);
    assert_eq!(
        replay,
        json!({"order_id": "o-10", "created_by": "python", "total": 12.5})
    );
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "helve ran only its own order"
    );
}
