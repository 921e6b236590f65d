//! The log lines a user sees, parsed and compared whole.

use std::{convert::Infallible, sync::Arc, time::Duration};

use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use tower::{Service, ServiceExt};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

use super::{LogBuffer, json_layer};
use crate::test_support::Captured;
use crate::{
    Context, Options, Payload, Settings,
    function::service_stack,
    layers::{LoggingLayer, MetricsLayer},
};

fn settings(options: Options, env: &'static [(&'static str, &'static str)]) -> Settings {
    Settings::resolve(&options, |name| {
        env.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    })
    .unwrap()
}

fn options(service: &str) -> Options {
    Options {
        service: Some(service.to_owned()),
        ..Options::default()
    }
}

fn event(request_id: &str, payload: Value) -> LambdaEvent<Payload<Value>> {
    let mut context = lambda_runtime::Context::default();
    context.request_id = request_id.to_owned();
    context.deadline = crate::context::deadline_ms(Duration::from_secs(30));
    context.invoked_function_arn =
        "arn:aws:lambda:eu-west-1:123456789012:function:orders".to_owned();
    context.xray_trace_id = Some(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned(),
    );
    context.env_config = Arc::new(lambda_runtime::Config {
        function_name: "orders".to_owned(),
        memory: 256,
        version: "$LATEST".to_owned(),
        ..lambda_runtime::Config::default()
    });
    LambdaEvent::new(Payload(Ok(payload)), context)
}

/// Runs `body` with a subscriber writing to `captured`, on a current-thread runtime.
fn with_logs<F: std::future::Future>(
    settings: &Settings,
    captured: &Captured,
    body: F,
) -> F::Output {
    let subscriber =
        tracing_subscriber::registry().with(json_layer(settings.log(), captured.sink()));
    tracing::subscriber::with_default(subscriber, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(body)
    })
}

fn invocation_keys(request_id: &str, cold_start: bool) -> Value {
    json!({
        "service": "orders",
        "cold_start": cold_start,
        "function_name": "orders",
        "function_memory_size": 256,
        "function_arn": "arn:aws:lambda:eu-west-1:123456789012:function:orders",
        "function_request_id": request_id,
        "correlation_id": request_id,
        "xray_trace_id": "1-5759e988-bd862e3fe1be46a994272793",
    })
}

fn merge(mut base: Value, extra: Value) -> Value {
    for (key, value) in extra.as_object().unwrap() {
        base[key] = value.clone();
    }
    base
}

async fn log_three_fields(event: Value, _ctx: Context) -> Result<Value, Infallible> {
    tracing::info!(
        order_id = "o-7",
        qty = 3_u64,
        express = true,
        "order accepted"
    );
    Ok(event)
}

#[test]
fn a_line_inside_an_invocation_carries_every_powertools_key() {
    let settings = settings(options("orders"), &[]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        let logging = LoggingLayer::with_sink(&settings, captured.sink(), None);
        let service = service_stack(
            log_three_fields,
            &settings,
            &(),
            logging,
            MetricsLayer::disabled(),
        );
        service.oneshot(event("req-1", json!({}))).await.unwrap();
    });
    assert_eq!(
        captured.lines(),
        vec![merge(
            invocation_keys("req-1", true),
            json!({"level": "INFO", "message": "order accepted", "order_id": "o-7", "qty": 3, "express": true})
        )]
    );
}

#[test]
fn a_line_outside_an_invocation_carries_the_service_only() {
    let settings = settings(options("orders"), &[]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        tracing::warn!(table = "orders", "the table is not warmed up");
    });
    assert_eq!(
        captured.lines(),
        vec![
            json!({"level": "WARN", "message": "the table is not warmed up", "service": "orders", "table": "orders"})
        ]
    );
}

#[test]
fn a_field_with_a_reserved_name_never_overwrites_helves_key() {
    let settings = settings(options("orders"), &[]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        tracing::info!(
            service = "payments",
            level = "high",
            cold_start = false,
            "renamed"
        );
    });
    assert_eq!(
        captured.lines(),
        vec![json!({
            "level": "INFO", "message": "renamed", "service": "orders",
            "user_service": "payments", "user_level": "high", "user_cold_start": false
        })]
    );
}

#[test]
fn span_fields_are_flattened_and_the_events_own_fields_win() {
    let settings = settings(options("orders"), &[]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        let outer = tracing::info_span!("batch", batch_id = "b-1", step = "outer");
        let inner =
            tracing::info_span!(parent: &outer, "record", record_id = "r-2", step = "inner");
        async {
            tracing::info!(step = "event", "processing");
        }
        .instrument(inner)
        .await;
    });
    assert_eq!(
        captured.lines(),
        vec![json!({
            "level": "INFO", "message": "processing", "service": "orders",
            "step": "event", "record_id": "r-2", "batch_id": "b-1"
        })]
    );
}

#[derive(Debug, thiserror::Error)]
#[error("order o-7 could not be saved")]
struct SaveFailed(#[source] std::io::Error);

#[test]
fn an_error_field_carries_its_type_message_and_source_chain() {
    let settings = settings(options("orders"), &[]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        let error = SaveFailed(std::io::Error::other("disk full"));
        tracing::error!(error = &error as &dyn std::error::Error, "saving failed");
        tracing::error!(error = %error, "saving failed, as text");
    });
    assert_eq!(
        captured.lines(),
        vec![
            json!({
                "level": "ERROR", "message": "saving failed", "service": "orders",
                "error": {"type": "SaveFailed", "message": "order o-7 could not be saved", "sources": ["disk full"]}
            }),
            json!({
                "level": "ERROR", "message": "saving failed, as text", "service": "orders",
                "error": "order o-7 could not be saved"
            }),
        ]
    );
}

fn first<A, B>(pair: &(A, B)) -> &A {
    &pair.0
}

#[test]
fn helves_log_macros_record_an_error_field_given_with_percent_or_question_mark_as_the_error() {
    let settings = settings(options("orders"), &[]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        let result: Result<(), SaveFailed> = Err(SaveFailed(std::io::Error::other("disk full")));
        if let Err(e) = &result {
            crate::logging::error!(error = %e, order_id = "o-7", "saving failed");
            crate::logging::warn!(error = ?e, "saving failed, by Debug");
        }
        let Err(error) = result else { return };
        crate::logging::info!(%error, "saving failed, shorthand");
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(error);
        crate::logging::info!(error = %boxed, "boxed");
        let local: Box<dyn std::error::Error> =
            Box::new(SaveFailed(std::io::Error::other("disk full")));
        crate::logging::info!(error = ?local, "boxed, not Send");
        let pair = (SaveFailed(std::io::Error::other("disk full")), 7_u8);
        crate::logging::error!(error = %first::<SaveFailed, u8>(&pair), "a generic call");
        let kept: Result<(), SaveFailed> = Err(pair.0);
        let _ = kept
            .as_ref()
            .inspect_err(|e| crate::logging::error!(error = %e, "a reference to a reference"));
        if let Err(e) = &kept
            && let Some(cause) = std::error::Error::source(e)
        {
            crate::logging::error!(error = %cause, "the cause, as source() gives it");
        }
        crate::logging::error!(error = %"no space left", "not an error value: its text");
        crate::logging::error!(error = ?Some(7), "not an error value: its Debug text");
        // Format arguments after the message are left to `format_args!`.
        crate::logging::error!(code = 7, "failed: {error}", error = "as text");
    });
    let save_failed = json!({
        "type": "SaveFailed", "message": "order o-7 could not be saved", "sources": ["disk full"]
    });
    assert_eq!(
        captured.lines(),
        vec![
            json!({
                "level": "ERROR", "message": "saving failed", "service": "orders",
                "error": save_failed, "order_id": "o-7"
            }),
            json!({
                "level": "WARN", "message": "saving failed, by Debug", "service": "orders",
                "error": save_failed
            }),
            json!({
                "level": "INFO", "message": "saving failed, shorthand", "service": "orders",
                "error": save_failed
            }),
            json!({
                "level": "INFO", "message": "boxed", "service": "orders", "error": save_failed
            }),
            json!({
                "level": "INFO", "message": "boxed, not Send", "service": "orders",
                "error": save_failed
            }),
            json!({
                "level": "ERROR", "message": "a generic call", "service": "orders",
                "error": save_failed
            }),
            json!({
                "level": "ERROR", "message": "a reference to a reference", "service": "orders",
                "error": save_failed
            }),
            json!({
                "level": "ERROR", "message": "the cause, as source() gives it",
                "service": "orders",
                "error": {"type": "Custom", "message": "disk full", "sources": []}
            }),
            json!({
                "level": "ERROR", "message": "not an error value: its text", "service": "orders",
                "error": "no space left"
            }),
            json!({
                "level": "ERROR", "message": "not an error value: its Debug text",
                "service": "orders", "error": "Some(7)"
            }),
            json!({
                "level": "ERROR", "message": "failed: as text", "service": "orders", "code": 7
            }),
        ]
    );
}

#[test]
fn a_line_from_helves_log_macros_has_the_callers_location_and_target() {
    let settings = settings(
        options("orders"),
        &[("POWERTOOLS_LOG_LEVEL", "warn,helve::logging=error")],
    );
    let captured = Captured::default();
    let line = with_logs(&settings, &captured, async {
        crate::logging::warn!("filtered out by the caller's target");
        crate::logging::error!("here");
        line!() - 1
    });
    let raw = String::from_utf8(captured.bytes()).unwrap();
    let value: Value = serde_json::from_str(raw.trim()).unwrap();
    assert_eq!(value["message"], "here");
    assert_eq!(value["location"], format!("src/logging/tests.rs:{line}"));
}

#[test]
fn quotes_newlines_and_control_characters_are_escaped() {
    let settings = settings(options("orders"), &[]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        tracing::info!(note = "a \"b\"\n\tc\u{1}", "line\nbreak");
    });
    assert_eq!(
        captured.lines(),
        vec![
            json!({"level": "INFO", "message": "line\nbreak", "service": "orders", "note": "a \"b\"\n\tc\u{1}"})
        ]
    );
}

async fn log_debug(event: Value, _ctx: Context) -> Result<Value, Infallible> {
    tracing::debug!("cache miss");
    Ok(event)
}

#[test]
fn a_sampled_invocation_logs_at_debug_and_says_its_sampling_rate() {
    let settings = settings(options("orders"), &[("POWERTOOLS_LOGGER_SAMPLE_RATE", "1")]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        let logging = LoggingLayer::with_sink(&settings, captured.sink(), None);
        let service = service_stack(log_debug, &settings, &(), logging, MetricsLayer::disabled());
        service.oneshot(event("req-1", json!({}))).await.unwrap();
    });
    assert_eq!(
        captured.lines(),
        vec![merge(
            invocation_keys("req-1", true),
            json!({"level": "DEBUG", "message": "cache miss", "sampling_rate": 1.0})
        )]
    );
}

#[test]
fn an_invocation_that_is_not_sampled_drops_debug_lines() {
    let settings = settings(options("orders"), &[]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        let logging = LoggingLayer::with_sink(&settings, captured.sink(), None);
        let service = service_stack(log_debug, &settings, &(), logging, MetricsLayer::disabled());
        service.oneshot(event("req-1", json!({}))).await.unwrap();
    });
    assert_eq!(captured.lines(), Vec::<Value>::new());
}

#[test]
fn sampling_is_decided_per_invocation() {
    let settings = settings(
        options("orders"),
        &[("POWERTOOLS_LOGGER_SAMPLE_RATE", "0.5")],
    );
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        let logging = LoggingLayer::with_sink(&settings, captured.sink(), None);
        let mut service =
            service_stack(log_debug, &settings, &(), logging, MetricsLayer::disabled());
        for n in 0..200 {
            service
                .ready()
                .await
                .unwrap()
                .call(event(&format!("req-{n}"), json!({})))
                .await
                .unwrap();
        }
    });
    let sampled = captured.lines().len();
    // 200 coin flips: all heads or all tails would mean the decision is not per invocation.
    assert!(
        (40..=160).contains(&sampled),
        "{sampled} of 200 invocations sampled"
    );
}

async fn debug_then_maybe_fail(event: Value, _ctx: Context) -> Result<Value, crate::Error> {
    tracing::debug!(step = 1, "loaded the order");
    tracing::info!("charging");
    if event["fail"] == true {
        return Err(crate::Error::new(
            "orders.ChargeFailed",
            "the card was declined",
        ));
    }
    Ok(event)
}

fn buffered(bytes: usize) -> Options {
    Options {
        log_buffer_bytes: Some(bytes),
        ..options("orders")
    }
}

#[test]
fn buffered_debug_lines_are_dropped_when_the_invocation_succeeds() {
    let settings = settings(buffered(20 * 1024), &[]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        let logging = LoggingLayer::with_sink(&settings, captured.sink(), None);
        let service = service_stack(
            debug_then_maybe_fail,
            &settings,
            &(),
            logging,
            MetricsLayer::disabled(),
        );
        service
            .oneshot(event("req-1", json!({"fail": false})))
            .await
            .unwrap();
    });
    let messages: Vec<Value> = captured
        .lines()
        .iter()
        .map(|line| line["message"].clone())
        .collect();
    assert_eq!(messages, vec![json!("charging")]);
}

#[test]
fn buffered_debug_lines_are_printed_before_the_error_of_a_failed_invocation() {
    let settings = settings(buffered(20 * 1024), &[]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        let logging = LoggingLayer::with_sink(&settings, captured.sink(), None);
        let service = service_stack(
            debug_then_maybe_fail,
            &settings,
            &(),
            logging,
            MetricsLayer::disabled(),
        );
        let _ = service.oneshot(event("req-1", json!({"fail": true}))).await;
    });
    let lines = captured.lines();
    let messages: Vec<&str> = lines
        .iter()
        .map(|line| line["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        vec![
            "charging",
            "loaded the order",
            "the handler failed: the card was declined"
        ]
    );
    assert_eq!(lines[1]["level"], "DEBUG");
    assert_eq!(lines[1]["step"], 1);
    assert_eq!(lines[1]["function_request_id"], "req-1");
}

async fn many_debug_lines(_event: Value, _ctx: Context) -> Result<Value, crate::Error> {
    for n in 0..100 {
        tracing::debug!(n, "step");
    }
    Err(crate::Error::msg("gave up"))
}

#[test]
fn the_log_buffer_keeps_only_the_newest_lines_that_fit() {
    let settings = settings(buffered(2000), &[]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        let logging = LoggingLayer::with_sink(&settings, captured.sink(), None);
        let service = service_stack(
            many_debug_lines,
            &settings,
            &(),
            logging,
            MetricsLayer::disabled(),
        );
        let _ = service.oneshot(event("req-1", json!({}))).await;
    });
    let lines = captured.lines();
    let steps: Vec<u64> = lines.iter().filter_map(|line| line["n"].as_u64()).collect();
    assert!(
        !steps.is_empty() && steps.len() < 100,
        "{} lines kept",
        steps.len()
    );
    assert_eq!(steps.last(), Some(&99), "the newest line is kept");
    let note = lines
        .iter()
        .find(|line| line["level"] == "WARN")
        .expect("a note about dropped lines");
    assert_eq!(
        note["message"],
        format!(
            "{} older buffered log lines were dropped: the log buffer holds at most 2000 bytes",
            100 - steps.len()
        )
    );
}

async fn slow_debug(event: Value, _ctx: Context) -> Result<Value, crate::Error> {
    tracing::debug!("about to wait");
    tokio::time::sleep(Duration::from_secs(3600)).await;
    Ok(event)
}

#[test]
fn the_log_buffer_is_written_out_before_the_deadline_passes() {
    let settings = settings(buffered(20 * 1024), &[]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        tokio::time::pause();
        let logging = LoggingLayer::with_sink(&settings, captured.sink(), None);
        let service = service_stack(
            slow_debug,
            &settings,
            &(),
            logging,
            MetricsLayer::disabled(),
        );
        let mut short = event("req-1", json!({}));
        short.context.deadline = crate::context::deadline_ms(Duration::from_secs(1));
        // Lambda would stop the invocation at its deadline; the test stops waiting a little
        // after it (in paused, virtual time).
        let _ = tokio::time::timeout(Duration::from_secs(2), service.oneshot(short)).await;
    });
    let messages: Vec<Value> = captured
        .lines()
        .iter()
        .map(|line| line["message"].clone())
        .collect();
    assert_eq!(messages, vec![json!("about to wait")]);
}

async fn interleaved(event: Value, ctx: Context) -> Result<Value, Infallible> {
    for step in 0..3_u64 {
        tracing::info!(step, "working");
        tokio::task::yield_now().await;
    }
    Ok(json!({"request": ctx.request_id(), "event": event}))
}

#[test]
fn interleaved_invocations_never_log_each_others_ids() {
    let settings = settings(options("orders"), &[]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        let logging = LoggingLayer::with_sink(&settings, captured.sink(), None);
        let service = service_stack(
            interleaved,
            &settings,
            &(),
            logging,
            MetricsLayer::disabled(),
        );
        let calls = (0..5).map(|n| {
            let service = service.clone();
            async move { service.oneshot(event(&format!("req-{n}"), json!(n))).await }
        });
        for outcome in futures_join_all(calls).await {
            outcome.unwrap();
        }
    });
    let lines = captured.lines();
    assert_eq!(lines.len(), 5 * 3);
    // The invocations really interleaved: the first lines come from different invocations.
    assert_ne!(
        lines[0]["function_request_id"],
        lines[1]["function_request_id"]
    );
    for line in &lines {
        assert_eq!(line["correlation_id"], line["function_request_id"]);
    }
    for n in 0..5 {
        let own = lines
            .iter()
            .filter(|line| line["function_request_id"] == format!("req-{n}"))
            .count();
        assert_eq!(own, 3, "req-{n} wrote its three lines");
    }
}

/// Polls every future to completion on the current task, interleaving them.
async fn futures_join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (future, output) in pending.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[test]
fn the_first_invocation_logs_the_init_duration_once() {
    let settings = settings(options("orders"), &[]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        let logging =
            LoggingLayer::with_sink(&settings, captured.sink(), Some(Duration::from_millis(42)));
        let service = service_stack(log_debug, &settings, &(), logging, MetricsLayer::disabled());
        service
            .clone()
            .oneshot(event("req-1", json!({})))
            .await
            .unwrap();
        service.oneshot(event("req-2", json!({}))).await.unwrap();
    });
    assert_eq!(
        captured.lines(),
        vec![merge(
            invocation_keys("req-1", true),
            json!({"level": "INFO", "message": "the execution environment is ready", "init_duration_ms": 42.0})
        )]
    );
}

#[test]
fn a_field_named_like_a_renamed_key_is_renamed_too() {
    let settings = settings(options("orders"), &[]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        tracing::info!(level = 1, user_level = 2, "both kept");
    });
    assert_eq!(
        captured.lines(),
        vec![json!({
            "level": "INFO", "message": "both kept", "service": "orders",
            "user_level": 1, "user_user_level": 2
        })]
    );
}

#[test]
fn the_location_is_the_file_and_line_of_the_event() {
    let settings = settings(options("orders"), &[]);
    let captured = Captured::default();
    let line = with_logs(&settings, &captured, async {
        tracing::info!("here");
        line!() - 1
    });
    let raw = String::from_utf8(captured.bytes()).unwrap();
    let value: Value = serde_json::from_str(raw.trim()).unwrap();
    assert_eq!(value["location"], format!("src/logging/tests.rs:{line}"));
}

#[test]
fn a_line_too_long_for_cloudwatch_is_cut_to_one_that_stays_json() {
    let settings = settings(options("orders"), &[]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        let huge = "é".repeat(200_000);
        tracing::info!(payload = %huge, "{huge}");
    });
    let raw = captured.bytes();
    assert!(raw.len() < 64 * 1024, "{} bytes", raw.len());
    let lines = captured.lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(
        lines[0]["message"].as_str().unwrap().chars().count(),
        16 * 1024 / 2
    );
    assert!(lines[0]["truncated_from_bytes"].as_u64().unwrap() > 256 * 1024);
    assert!(lines[0].get("payload").is_none());
}

#[test]
fn a_line_cut_for_cloudwatch_masks_its_keys_values_too() {
    // Found by the `log_lines` fuzz target: the cut line's invocation keys (service, function
    // name and ARN, ids) were written after masking, so a masked value there showed.
    crate::logging::mask_value("orders-masked-svc");
    let settings = settings(options("orders-masked-svc"), &[]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        tracing::info!("{}", "x".repeat(300_000));
    });
    let lines = captured.lines();
    assert_eq!(lines.len(), 1);
    assert!(lines[0]["truncated_from_bytes"].as_u64().unwrap() > 256 * 1024);
    assert_eq!(lines[0]["service"], "[REDACTED]");
}

async fn debug_in_spawned_task(event: Value, ctx: Context) -> Result<Value, Infallible> {
    let task = tokio::spawn(ctx.clone().scope(async {
        tracing::debug!("from the spawned task");
    }));
    let _ = task.await;
    Ok(event)
}

#[test]
fn a_task_spawned_in_the_invocations_scope_follows_its_sampling() {
    let settings = settings(options("orders"), &[("POWERTOOLS_LOGGER_SAMPLE_RATE", "1")]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        let logging = LoggingLayer::with_sink(&settings, captured.sink(), None);
        let service = service_stack(
            debug_in_spawned_task,
            &settings,
            &(),
            logging,
            MetricsLayer::disabled(),
        );
        service.oneshot(event("req-1", json!({}))).await.unwrap();
    });
    let lines = captured.lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["message"], "from the spawned task");
    assert_eq!(lines[0]["function_request_id"], "req-1");
}

#[test]
fn an_invocation_dropped_before_it_finishes_writes_out_its_buffer() {
    let settings = settings(buffered(20 * 1024), &[]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        let logging = LoggingLayer::with_sink(&settings, captured.sink(), None);
        let service = service_stack(
            slow_debug,
            &settings,
            &(),
            logging,
            MetricsLayer::disabled(),
        );
        // Stopped from outside, as a local `--timeout` does, long before its deadline.
        let _ = tokio::time::timeout(
            Duration::from_millis(20),
            service.oneshot(event("req-1", json!({}))),
        )
        .await;
    });
    let messages: Vec<Value> = captured
        .lines()
        .iter()
        .map(|line| line["message"].clone())
        .collect();
    assert_eq!(messages, vec![json!("about to wait")]);
}

async fn debug_before_and_after_a_pause(event: Value, _ctx: Context) -> Result<Value, Infallible> {
    tracing::debug!("before");
    tokio::time::sleep(Duration::from_millis(500)).await;
    tracing::debug!("after");
    tokio::time::sleep(Duration::from_secs(3600)).await;
    Ok(event)
}

#[test]
fn once_the_deadline_is_near_buffered_lines_are_written_at_once() {
    let settings = settings(buffered(20 * 1024), &[]);
    let captured = Captured::default();
    let seen_before_the_end = with_logs(&settings, &captured, async {
        tokio::time::pause();
        let logging = LoggingLayer::with_sink(&settings, captured.sink(), None);
        let service = service_stack(
            debug_before_and_after_a_pause,
            &settings,
            &(),
            logging,
            MetricsLayer::disabled(),
        );
        let mut short = event("req-1", json!({}));
        short.context.deadline = crate::context::deadline_ms(Duration::from_millis(100));
        let call = tokio::spawn(service.oneshot(short));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let seen = captured.lines().len();
        call.abort();
        seen
    });
    assert_eq!(
        seen_before_the_end, 2,
        "both lines were written while the invocation ran"
    );
}

#[test]
fn the_buffer_drops_the_oldest_lines_when_full() {
    let mut buffer = LogBuffer::new(10);
    buffer.push(b"aaaa\n");
    buffer.push(b"bbbb\n");
    buffer.push(b"cccc\n");
    assert_eq!(buffer.len(), 10);
    assert_eq!(buffer.evicted, 1);
    let taken = buffer.take();
    assert_eq!(taken, vec![b"bbbb\n".to_vec(), b"cccc\n".to_vec()]);
    assert_eq!(buffer.len(), 0);
    buffer.push(&[b'x'; 11]);
    assert_eq!(buffer.len(), 0);
    assert_eq!(buffer.evicted, 2);
}

#[test]
fn a_sampled_function_never_lets_lambda_runtimes_raw_event_through_a_module_directive() {
    let settings = settings(
        options("orders"),
        &[
            (
                "POWERTOOLS_LOG_LEVEL",
                "info,lambda_runtime::layers::api_response=trace",
            ),
            ("POWERTOOLS_LOGGER_SAMPLE_RATE", "1"),
        ],
    );
    let filter = super::layer_filter(settings.log());
    let runtime = "lambda_runtime::layers::api_response";
    assert!(!filter.would_enable(runtime, &tracing::Level::TRACE));
    assert!(filter.would_enable(runtime, &tracing::Level::DEBUG));
    assert!(filter.would_enable("orders", &tracing::Level::DEBUG));
}

#[test]
fn a_handler_error_is_logged_once_not_again_by_lambda_runtime() {
    let settings = settings(options("orders"), &[]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        let diagnostic = lambda_runtime::Diagnostic {
            error_type: "orders.Declined".to_owned(),
            error_message: "the card was declined".to_owned(),
        };
        // What lambda_runtime logs for every error a handler returns, after helve's line.
        tracing::error!(target: "lambda_runtime::layers::panic", "{diagnostic:?}");
        // Its line for a panic that reached it is kept.
        tracing::error!(target: "lambda_runtime::layers::panic", error = ?"boom", "user handler panicked");
    });
    let lines = captured.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["message"], "user handler panicked");
}

#[test]
fn a_logged_event_too_big_for_cloudwatch_keeps_its_start_and_says_how_big_it_was() {
    let event = json!({"order": {"notes": "x".repeat(300 * 1024)}});
    let line = super::raw_line("orders", None, "incoming event", "event", &event);
    assert!(line.len() <= 250 * 1024, "{}", line.len());
    let line: Value = serde_json::from_slice(&line).expect("one JSON object");
    assert_eq!(line["message"], "incoming event");
    assert!(line.get("event").is_none());
    let start = line["event_start"].as_str().unwrap();
    assert!(
        start.starts_with(r#"{"order":{"notes":"xxx"#),
        "{start:.40}"
    );
    assert!(line["truncated_from_bytes"].as_u64().unwrap() > 300 * 1024);
}

#[test]
fn a_line_from_a_crate_built_outside_the_workspace_shows_no_absolute_path() {
    use tracing::{
        Metadata,
        callsite::{Callsite, Identifier},
        field::FieldSet,
        metadata::Kind,
        subscriber::Interest,
    };

    // A callsite as `file!()` gives it for helve built from crates.io.
    struct FromRegistry;
    static CALLSITE: FromRegistry = FromRegistry;
    static META: Metadata<'static> = Metadata::new(
        "event src/layers/logging.rs:144",
        "helve::layers::logging",
        tracing::Level::INFO,
        Some(
            "/home/ci/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/helve-0.1.0/src/layers/logging.rs",
        ),
        Some(144),
        Some("helve::layers::logging"),
        FieldSet::new(&["message"], Identifier(&CALLSITE)),
        Kind::EVENT,
    );
    impl Callsite for FromRegistry {
        fn set_interest(&self, _: Interest) {}
        fn metadata(&self) -> &Metadata<'_> {
            &META
        }
    }

    let settings = settings(options("orders"), &[]);
    let captured = Captured::default();
    with_logs(&settings, &captured, async {
        tracing::callsite::register(&CALLSITE);
        let fields = META.fields();
        let message = fields.field("message").unwrap();
        let values = [(&message, Some(&"invocation started" as &dyn tracing::Value))];
        let values = fields.value_set(&values);
        tracing::dispatcher::get_default(|dispatch| {
            if dispatch.enabled(&META) {
                dispatch.event(&tracing::Event::new(&META, &values));
            }
        });
    });
    let raw = String::from_utf8(captured.bytes()).unwrap();
    let value: Value = serde_json::from_str(raw.trim()).unwrap_or_else(|error| {
        panic!("one line ({error}): {raw}");
    });
    assert_eq!(value["message"], "invocation started");
    assert_eq!(value["location"], "src/layers/logging.rs:144");
    assert!(!raw.contains("/home/"), "{raw}");
}
