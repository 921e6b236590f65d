//! Every state transition of an idempotent execution, with the memory store, a clock the
//! tests move, and tokio's paused time.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde_json::{Value, json};

use super::*;
use crate::{Context, IntoDiagnostic};

/// 2026-01-01T00:00:00Z, in epoch milliseconds: where the tests' clock starts.
const START_MS: u64 = 1_767_225_600_000;

/// A clock the test moves by hand.
#[derive(Debug, Clone)]
struct TestClock(Arc<AtomicU64>);

impl TestClock {
    fn new() -> Self {
        Self(Arc::new(AtomicU64::new(START_MS)))
    }

    fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_millis()).unwrap();
        self.0.fetch_add(by, Ordering::SeqCst);
    }

    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0.load(Ordering::SeqCst))
    }
}

/// A memory store that counts its calls, and can act as a store without `ALL_OLD`, with a
/// size limit, or failing.
#[derive(Debug, Default)]
struct Counting {
    inner: MemoryStore,
    puts: AtomicUsize,
    gets: AtomicUsize,
    completes: AtomicUsize,
    deletes: AtomicUsize,
    without_all_old: bool,
    max_record_size: Option<usize>,
    failing: bool,
}

impl Counting {
    fn calls(&self) -> [usize; 4] {
        [
            self.puts.load(Ordering::SeqCst),
            self.gets.load(Ordering::SeqCst),
            self.completes.load(Ordering::SeqCst),
            self.deletes.load(Ordering::SeqCst),
        ]
    }
}

impl Store for Counting {
    fn put_in_progress<'a>(&'a self, record: &'a Record, now: Now) -> StoreFuture<'a, Acquired> {
        self.puts.fetch_add(1, Ordering::SeqCst);
        if self.failing {
            return Box::pin(async { Err(StoreError::new("the table does not exist")) });
        }
        let without_all_old = self.without_all_old;
        Box::pin(async move {
            match self.inner.put_in_progress(record, now).await? {
                Acquired::Exists(_) if without_all_old => Ok(Acquired::Exists(None)),
                acquired => Ok(acquired),
            }
        })
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Record>> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key)
    }

    fn complete<'a>(&'a self, record: &'a Record) -> StoreFuture<'a, ()> {
        self.completes.fetch_add(1, Ordering::SeqCst);
        self.inner.complete(record)
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(key)
    }

    fn max_record_size(&self) -> Option<usize> {
        self.max_record_size
    }
}

struct Setup {
    store: Arc<Counting>,
    clock: TestClock,
    idempotency: Idempotency,
}

fn setup_with(store: Counting) -> Setup {
    let store = Arc::new(store);
    let clock = TestClock::new();
    let ticking = clock.clone();
    let idempotency = Idempotency::with_store(store.clone())
        .disabled(false)
        .key_prefix("orders.create")
        .clock(move || ticking.now());
    Setup {
        store,
        clock,
        idempotency,
    }
}

fn setup() -> Setup {
    setup_with(Counting::default())
}

/// The key the tests' prefix gives `value`.
fn key(value: &Value) -> String {
    format!("orders.create#{}", Dialect::Python.digest(value))
}

/// A function that counts its runs and answers `{"order": n}`.
fn counted(
    runs: &Arc<AtomicUsize>,
) -> impl FnOnce() -> std::future::Ready<Result<Value, crate::Error>> {
    let runs = Arc::clone(runs);
    move || {
        let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
        std::future::ready(Ok(json!({"order": n})))
    }
}

#[tokio::test]
async fn a_first_request_runs_and_its_response_is_stored_as_completed() {
    let Setup {
        store, idempotency, ..
    } = setup();
    let runs = Arc::new(AtomicUsize::new(0));
    let response = idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    assert_eq!(response, json!({"order": 1}));
    let record = store.inner.record(&key(&json!("o-1"))).unwrap();
    assert_eq!(record.status, Status::Completed);
    assert_eq!(record.data.as_deref(), Some(r#"{"order": 1}"#));
    assert_eq!(record.expiration, START_MS / 1000 + 3600);
    assert_eq!(
        record.in_progress_expiration, None,
        "no invocation, no deadline"
    );
    assert_eq!(
        store.calls(),
        [1, 0, 1, 0],
        "a first execution is two store calls"
    );
}

#[tokio::test]
async fn a_repeated_request_replays_the_response_without_running_again() {
    let Setup {
        store, idempotency, ..
    } = setup();
    let runs = Arc::new(AtomicUsize::new(0));
    let first = idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    let second = idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(store.calls(), [2, 0, 1, 0], "a replay is one store call");
    let other = idempotency
        .once(&json!("o-2"), counted(&runs))
        .await
        .unwrap();
    assert_eq!(other, json!({"order": 2}), "another key runs");
}

#[tokio::test]
async fn a_failed_execution_deletes_its_record_so_a_retry_runs_again() {
    let Setup {
        store, idempotency, ..
    } = setup();
    let error = idempotency
        .once(&json!("o-1"), || async {
            Err::<Value, _>(crate::Error::new("orders.OutOfStock", "no stock"))
        })
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "orders.OutOfStock");
    assert_eq!(error.error_message(), "no stock");
    assert!(store.inner.is_empty());
    let runs = Arc::new(AtomicUsize::new(0));
    idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_panicking_execution_deletes_its_record_and_fails_as_a_panic() {
    let Setup {
        store, idempotency, ..
    } = setup();
    let error = idempotency
        .once(&json!("o-1"), || async {
            if true {
                panic!("the payment client broke");
            }
            Ok::<Value, crate::Error>(json!(null))
        })
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "helve.Panic");
    assert!(
        error.error_message().contains("the payment client broke"),
        "{}",
        error.error_message()
    );
    assert!(store.inner.is_empty(), "the record is deleted");
}

#[tokio::test]
async fn a_request_while_the_first_is_in_progress_fails_as_already_in_progress() {
    let Setup { idempotency, .. } = setup();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (finish_tx, finish_rx) = tokio::sync::oneshot::channel::<()>();
    let o1 = json!("o-1");
    let first = idempotency.once(&o1, || async move {
        let _ = started_tx.send(());
        let _ = finish_rx.await;
        Ok::<_, crate::Error>(json!({"order": 1}))
    });
    let second = async {
        let _ = started_rx.await;
        let outcome = idempotency
            .once(&json!("o-1"), || async {
                Ok::<_, crate::Error>(json!("ran twice"))
            })
            .await;
        let _ = finish_tx.send(());
        outcome
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.unwrap(), json!({"order": 1}));
    let error = second.unwrap_err();
    assert_eq!(error.error_type(), "helve.IdempotencyAlreadyInProgress");
    assert_eq!(
        error.error_message(),
        format!(
            "an execution with idempotency key {} is already in progress",
            key(&json!("o-1"))
        )
    );
}

#[tokio::test(start_paused = true)]
async fn waiting_for_the_first_execution_replays_its_response() {
    let Setup { idempotency, .. } = setup();
    let idempotency = idempotency.wait_in_progress(Duration::from_secs(10));
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let o1 = json!("o-1");
    let first = idempotency.once(&o1, || async move {
        let _ = started_tx.send(());
        tokio::time::sleep(Duration::from_secs(2)).await;
        Ok::<_, crate::Error>(json!({"order": 1}))
    });
    let second = async {
        let _ = started_rx.await;
        idempotency
            .once(&json!("o-1"), || async {
                Ok::<_, crate::Error>(json!("ran twice"))
            })
            .await
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.unwrap(), json!({"order": 1}));
    assert_eq!(second.unwrap(), json!({"order": 1}));
}

#[tokio::test(start_paused = true)]
async fn waiting_gives_up_after_the_wait_as_already_in_progress() {
    let Setup { idempotency, .. } = setup();
    let idempotency = idempotency.wait_in_progress(Duration::from_secs(1));
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let o1 = json!("o-1");
    let first = idempotency.once(&o1, || async move {
        let _ = started_tx.send(());
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok::<_, crate::Error>(json!({"order": 1}))
    });
    let second = async {
        let _ = started_rx.await;
        let waited = tokio::time::Instant::now();
        let outcome = idempotency
            .once(&json!("o-1"), || async {
                Ok::<_, crate::Error>(json!("ran twice"))
            })
            .await;
        (outcome, waited.elapsed())
    };
    let (_, (second, waited)) = tokio::join!(first, second);
    assert_eq!(
        second.unwrap_err().error_type(),
        "helve.IdempotencyAlreadyInProgress"
    );
    assert!(waited <= Duration::from_secs(1), "waited {waited:?}");
}

#[tokio::test]
async fn an_expired_record_runs_the_function_again() {
    let Setup {
        clock, idempotency, ..
    } = setup();
    let runs = Arc::new(AtomicUsize::new(0));
    idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(3600));
    let still = idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    assert_eq!(
        still,
        json!({"order": 1}),
        "replayed up to its expiration second"
    );
    clock.advance(Duration::from_secs(1));
    let again = idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    assert_eq!(again, json!({"order": 2}), "run again after it");
}

#[tokio::test]
async fn an_in_progress_record_past_its_invocation_deadline_is_taken_over() {
    let Setup {
        store,
        clock,
        idempotency,
    } = setup();
    let key = key(&json!("o-1"));
    // A first execution that died: in progress, its deadline (in_progress_expiration) passed.
    store
        .inner
        .put_in_progress(
            &Record {
                key: key.clone(),
                status: Status::InProgress,
                expiration: START_MS / 1000 + 3600,
                in_progress_expiration: Some(START_MS + 3_000),
                data: None,
                validation: None,
            },
            Now::at(clock.now()),
        )
        .await
        .unwrap();
    clock.advance(Duration::from_millis(2_999));
    let runs = Arc::new(AtomicUsize::new(0));
    let error = idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "helve.IdempotencyAlreadyInProgress");
    clock.advance(Duration::from_millis(2));
    let response = idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    assert_eq!(response, json!({"order": 1}));
    assert_eq!(store.inner.record(&key).unwrap().status, Status::Completed);
}

#[tokio::test]
async fn inside_an_invocation_the_in_progress_record_expires_at_its_deadline() {
    let Setup {
        store, idempotency, ..
    } = setup();
    let context = Context::builder()
        .function_name("orders-api")
        .timeout(Duration::from_secs(30))
        .build();
    let deadline = Now::at(context.deadline()).millis();
    let key = key(&json!("o-1"));
    let seen = store.clone();
    let seen_key = key.clone();
    let in_progress = context
        .scope(idempotency.once(&json!("o-1"), || async move {
            let record = seen.inner.record(&seen_key);
            Ok::<_, crate::Error>(
                record.map(|record| json!([record.status.as_str(), record.in_progress_expiration])),
            )
        }))
        .await
        .unwrap();
    assert_eq!(in_progress, Some(json!(["INPROGRESS", deadline])));
}

#[tokio::test]
async fn without_a_prefix_the_key_starts_with_the_function_name() {
    let idempotency = Idempotency::new(MemoryStore::new()).disabled(false);
    let context = Context::builder().function_name("orders-api").build();
    let key = context
        .scope(async { idempotency.key_of(&json!("059f36b4-87a3-44ab-83d2-661975830a7d")) })
        .await;
    assert_eq!(
        key.as_deref(),
        Some("orders-api#068044a7927cd88524adc22442efbed9")
    );
}

#[tokio::test(start_paused = true)]
async fn near_the_deadline_the_execution_is_released_for_a_retry() {
    let Setup {
        store, idempotency, ..
    } = setup();
    let context = Context::builder().timeout(Duration::from_secs(3)).build();
    let error = context
        .scope(idempotency.once(&json!("o-1"), || async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, crate::Error>(json!("too late"))
        }))
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "helve.IdempotencyReleased");
    assert!(store.inner.is_empty(), "the record is deleted");
    assert_eq!(store.calls()[3], 1);
}

#[tokio::test]
async fn a_replay_with_a_different_validated_part_fails_validation() {
    let Setup { idempotency, .. } = setup();
    let runs = Arc::new(AtomicUsize::new(0));
    idempotency
        .once_validated(&json!("o-1"), &json!(42.5), counted(&runs))
        .await
        .unwrap();
    let same = idempotency
        .once_validated(&json!("o-1"), &json!(42.5), counted(&runs))
        .await
        .unwrap();
    assert_eq!(same, json!({"order": 1}));
    let error = idempotency
        .once_validated(&json!("o-1"), &json!(99), counted(&runs))
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "helve.IdempotencyValidationFailed");
    assert!(
        !error.error_message().contains("99"),
        "the value is not echoed"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_validation_digest_is_stored_in_the_record() {
    let Setup {
        store, idempotency, ..
    } = setup();
    let runs = Arc::new(AtomicUsize::new(0));
    idempotency
        .once_validated(&json!("o-1"), &json!(42.5), counted(&runs))
        .await
        .unwrap();
    let record = store.inner.record(&key(&json!("o-1"))).unwrap();
    assert_eq!(
        record.validation.as_deref(),
        Some("61d96bd42efb5e8c5b70f39c2e6eb97c")
    );
}

#[tokio::test]
async fn a_missing_key_runs_without_idempotency_unless_one_is_required() {
    for missing in [
        json!(null),
        json!(""),
        json!({}),
        json!([]),
        json!([null, null]),
    ] {
        let Setup {
            store, idempotency, ..
        } = setup();
        let runs = Arc::new(AtomicUsize::new(0));
        idempotency.once(&missing, counted(&runs)).await.unwrap();
        idempotency.once(&missing, counted(&runs)).await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2, "{missing}");
        assert_eq!(store.calls(), [0, 0, 0, 0], "{missing}");

        let required = idempotency.key_required(true);
        let error = required.once(&missing, counted(&runs)).await.unwrap_err();
        assert_eq!(
            error.error_type(),
            "helve.IdempotencyKeyMissing",
            "{missing}"
        );
        assert_eq!(runs.load(Ordering::SeqCst), 2, "{missing}");
    }
}

#[tokio::test]
async fn disabled_idempotency_runs_every_request() {
    let Setup {
        store, idempotency, ..
    } = setup();
    let idempotency = idempotency.disabled(true);
    let runs = Arc::new(AtomicUsize::new(0));
    idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(store.calls(), [0, 0, 0, 0]);
}

#[test]
fn powertools_idempotency_disabled_is_read_as_a_boolean() {
    assert!(config::disabled_by_value(Some("true")));
    assert!(config::disabled_by_value(Some(" TRUE ")));
    assert!(config::disabled_by_value(Some("1")));
    assert!(!config::disabled_by_value(Some("false")));
    assert!(!config::disabled_by_value(None));
    assert!(
        !config::disabled_by_value(Some("maybe")),
        "an unreadable value keeps idempotency on"
    );
}

#[tokio::test]
async fn a_store_without_the_old_record_is_read_back_with_get() {
    let Setup {
        store, idempotency, ..
    } = setup_with(Counting {
        without_all_old: true,
        ..Counting::default()
    });
    let runs = Arc::new(AtomicUsize::new(0));
    idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    let replay = idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    assert_eq!(replay, json!({"order": 1}));
    assert_eq!(store.calls(), [2, 1, 1, 0]);
}

#[tokio::test]
async fn a_response_too_large_for_the_store_is_not_stored_but_still_answered() {
    let Setup {
        store, idempotency, ..
    } = setup_with(Counting {
        max_record_size: Some(200),
        ..Counting::default()
    });
    let big = "x".repeat(300);
    let response = idempotency
        .once(&json!("o-1"), || async {
            Ok::<_, crate::Error>(json!(big))
        })
        .await
        .unwrap();
    assert_eq!(response.as_str().map(str::len), Some(300));
    assert!(
        store.inner.is_empty(),
        "not stored, and the record released"
    );
    assert_eq!(store.calls(), [1, 0, 0, 1]);
}

#[tokio::test]
async fn a_failing_store_fails_before_the_function_runs() {
    let Setup { idempotency, .. } = setup_with(Counting {
        failing: true,
        ..Counting::default()
    });
    let runs = Arc::new(AtomicUsize::new(0));
    let error = idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "helve.IdempotencyStoreError");
    assert_eq!(
        error.error_message(),
        format!(
            "the idempotency store failed for key {}: the table does not exist",
            key(&json!("o-1"))
        )
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_stored_response_of_another_type_is_a_store_error_that_does_not_echo_it() {
    let Setup { idempotency, .. } = setup();
    idempotency
        .once(&json!("o-1"), || async {
            Ok::<_, crate::Error>(json!({"secret": "s3cr3t"}))
        })
        .await
        .unwrap();
    let error = idempotency
        .once(&json!("o-1"), || async { Ok::<u32, crate::Error>(7) })
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "helve.IdempotencyStoreError");
    assert!(
        !error.error_message().contains("s3cr3t"),
        "{}",
        error.error_message()
    );
}

#[tokio::test]
async fn a_record_that_keeps_expiring_is_an_inconsistent_state_after_the_retries() {
    /// A store whose every record has already expired when it is read, as when a clock is
    /// far behind the table's.
    #[derive(Debug, Default)]
    struct AlwaysExpired(AtomicUsize);
    impl Store for AlwaysExpired {
        fn put_in_progress<'a>(&'a self, record: &'a Record, _: Now) -> StoreFuture<'a, Acquired> {
            self.0.fetch_add(1, Ordering::SeqCst);
            let mut expired = record.clone();
            expired.expiration = 0;
            Box::pin(async move { Ok(Acquired::Exists(Some(expired))) })
        }
        fn get<'a>(&'a self, _: &'a str) -> StoreFuture<'a, Option<Record>> {
            Box::pin(async { Ok(None) })
        }
        fn complete<'a>(&'a self, _: &'a Record) -> StoreFuture<'a, ()> {
            Box::pin(async { Ok(()) })
        }
        fn delete<'a>(&'a self, _: &'a str) -> StoreFuture<'a, ()> {
            Box::pin(async { Ok(()) })
        }
    }
    let store = Arc::new(AlwaysExpired::default());
    let idempotency = Idempotency::with_store(store.clone()).disabled(false);
    let runs = Arc::new(AtomicUsize::new(0));
    let error = idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "helve.IdempotencyInconsistentState");
    assert_eq!(
        store.0.load(Ordering::SeqCst),
        3,
        "the first try and two retries"
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_question_mark_into_helve_error_keeps_the_error_type() {
    async fn handler(idempotency: &Idempotency) -> Result<Value, crate::Error> {
        let response = idempotency
            .once(&json!(null), || async {
                Ok::<Value, crate::Error>(json!(1))
            })
            .await?;
        Ok(response)
    }
    let Setup { idempotency, .. } = setup();
    let error = handler(&idempotency.key_required(true)).await.unwrap_err();
    assert_eq!(error.error_type(), "helve.IdempotencyKeyMissing");
}

#[test]
fn the_item_size_counts_names_and_values() {
    let record = Record {
        key: "p#d".to_owned(),
        status: Status::Completed,
        expiration: 1_767_229_200,
        in_progress_expiration: Some(1_767_225_630_000),
        data: Some("{}".to_owned()),
        validation: None,
    };
    let expected = "id".len()
        + 3
        + "status".len()
        + 9
        + "expiration".len()
        + 10
        + "in_progress_expiration".len()
        + 13
        + "data".len()
        + 2;
    assert_eq!(record.item_size(), expected);
}

#[tokio::test]
async fn a_local_cache_replays_without_a_store_call() {
    let Setup {
        store, idempotency, ..
    } = setup();
    let idempotency = idempotency.local_cache(16);
    let runs = Arc::new(AtomicUsize::new(0));
    idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    assert_eq!(store.calls(), [1, 0, 1, 0]);
    let replay = idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    assert_eq!(replay, json!({"order": 1}));
    assert_eq!(
        store.calls(),
        [1, 0, 1, 0],
        "the replay came from the local cache"
    );
    let error = idempotency
        .once_validated(&json!("o-1"), &json!(1), counted(&runs))
        .await
        .unwrap_err();
    assert_eq!(error.error_type(), "helve.IdempotencyValidationFailed");
}

#[tokio::test]
async fn a_local_cache_drops_an_expired_record_and_keeps_only_completed_ones() {
    let Setup {
        store,
        clock,
        idempotency,
    } = setup();
    let idempotency = idempotency.local_cache(16);
    let runs = Arc::new(AtomicUsize::new(0));
    idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(3601));
    let again = idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    assert_eq!(again, json!({"order": 2}), "an expired record runs again");

    // A failed execution leaves nothing behind, in the store or the cache.
    let _ = idempotency
        .once(&json!("o-2"), || async {
            Err::<Value, _>(crate::Error::msg("failed"))
        })
        .await;
    let after = idempotency
        .once(&json!("o-2"), counted(&runs))
        .await
        .unwrap();
    assert_eq!(after, json!({"order": 3}));
    assert_eq!(store.calls()[3], 1, "the failure deleted its record");
}

#[tokio::test]
async fn a_full_local_cache_forgets_the_least_recently_used_record() {
    let Setup {
        store, idempotency, ..
    } = setup();
    let idempotency = idempotency.local_cache(1);
    let runs = Arc::new(AtomicUsize::new(0));
    idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    idempotency
        .once(&json!("o-2"), counted(&runs))
        .await
        .unwrap();
    let puts = store.calls()[0];
    let replay = idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    assert_eq!(replay, json!({"order": 1}), "replayed from the store");
    assert_eq!(store.calls()[0], puts + 1);
}

/// The lines logged with a plain subscriber, for the tests of what helve warns about.
#[derive(Clone, Default)]
struct Logged(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logged {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logged {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[tokio::test]
async fn powertools_idempotency_disabled_is_told_at_warn_once_at_the_first_execution() {
    let logged = Logged::default();
    let writer = logged.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let idempotency = config::with_environment(Some("true"), MemoryStore::new());
    assert!(
        logged.text().is_empty(),
        "nothing is logged at construction"
    );
    let runs = Arc::new(AtomicUsize::new(0));
    idempotency
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    idempotency
        .clone()
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2, "off: every request runs");
    let text = logged.text();
    assert_eq!(
        text.matches("POWERTOOLS_IDEMPOTENCY_DISABLED is true")
            .count(),
        1,
        "{text}"
    );
    assert!(text.contains("WARN"), "{text}");

    let unreadable = config::with_environment(Some("maybe"), MemoryStore::new());
    unreadable
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    unreadable
        .once(&json!("o-1"), counted(&runs))
        .await
        .unwrap();
    assert_eq!(
        runs.load(Ordering::SeqCst),
        3,
        "an unreadable value keeps it on"
    );
    assert!(
        logged
            .text()
            .contains("is neither `true` nor `false`: idempotency stays on"),
        "{}",
        logged.text()
    );
}

#[test]
fn an_invalid_pointer_stops_the_function_at_start_with_a_config_error() {
    let valid = crate::context::EventKeys {
        key: Some("/order_id".to_owned()),
        validation: Some(String::new()),
    };
    assert!(valid.check().is_ok());
    let invalid = crate::context::EventKeys {
        key: Some("/order_id".to_owned()),
        validation: Some("/amount~2".to_owned()),
    };
    let error = invalid.check().unwrap_err();
    assert_eq!(error.error_type(), "helve.ConfigError");
    assert!(
        error
            .error_message()
            .starts_with("invalid setting idempotency payload_validation:"),
        "{}",
        error.error_message()
    );
}

#[test]
fn the_raw_event_is_read_only_for_a_handler_with_a_pointer() {
    use crate::handler::{Handler, Stateless};

    async fn handle(event: Value, _ctx: Context) -> Result<Value, crate::Error> {
        Ok(event)
    }
    let by_value = Idempotent::new(
        handle,
        Idempotency::new(MemoryStore::new()),
        |event: &Value| Some(event.clone()),
        None,
    );
    assert_eq!(Handler::<Value, (), Stateless>::event_keys(&by_value), None);
    let validated = Idempotent::new(
        handle,
        Idempotency::new(MemoryStore::new()).payload_validation("/amount"),
        |event: &Value| Some(event.clone()),
        None,
    );
    let keys = Handler::<Value, (), Stateless>::event_keys(&validated).unwrap();
    assert_eq!(keys.validation.as_deref(), Some("/amount"));
    assert_eq!(keys.key, None);
}
