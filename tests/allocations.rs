//! helve's stack allocates nothing per invocation beyond the event and the response: the same
//! count as a bare `tower::service_fn`, measured with a counting global allocator.

use std::{
    future::Future,
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context as TaskContext, Poll, Waker},
};

use helve::{
    Context, Function, Invocation, Options, Payload, Settings,
    layers::{ContextLayer, MetricsLayer},
    metrics::EmfRecorder,
};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use tower::{Service, ServiceBuilder, service_fn};

fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

fn lambda_context() -> lambda_runtime::Context {
    let mut context = lambda_runtime::Context::default();
    context.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".to_owned();
    context.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f".to_owned();
    context
}

async fn echo(event: Value, _ctx: Context) -> Result<Value, helve::Error> {
    Ok(event)
}

#[test]
fn an_invocation_through_helve_allocates_no_more_than_a_bare_service() {
    let payload = json!({"name": "Ada", "items": [1, 2, 3]});
    let bare_event = LambdaEvent::new(payload.clone(), lambda_context());
    let helve_event = LambdaEvent::new(Payload(Ok(payload)), lambda_context());
    let mut bare =
        tower::service_fn(
            |event: LambdaEvent<Value>| async move { Ok::<_, Diagnostic>(event.payload) },
        );
    let settings = Settings::from_lookup(Some("orders"), |_| None).unwrap();
    let mut stack = Function::new(echo).into_service(settings, &());

    // The first invocation allocates the context that later ones reuse.
    assert!(ready(stack.call(helve_event.clone())).is_ok());

    for _ in 0..3 {
        let bare_count = allocation_counter::measure(|| {
            assert!(ready(bare.call(bare_event.clone())).is_ok());
        });
        let helve_count = allocation_counter::measure(|| {
            assert!(ready(stack.call(helve_event.clone())).is_ok());
        });
        assert!(
            bare_count.count_total > 0,
            "the event clone itself allocates"
        );
        assert_eq!(helve_count.count_total, bare_count.count_total);
        assert_eq!(helve_count.bytes_total, bare_count.bytes_total);
    }
}

/// Ten counters with the same two labels, as a handler records them.
fn record_ten_counters() {
    for name in [
        "OrdersPlaced",
        "OrdersShipped",
        "OrdersCancelled",
        "ItemsAdded",
        "ItemsRemoved",
        "CouponsApplied",
        "PaymentsAccepted",
        "PaymentsDeclined",
        "EmailsSent",
        "InvoicesIssued",
    ] {
        metrics::counter!(name, "region" => "eu-west-1", "tier" => "gold").increment(1);
    }
}

#[test]
fn writing_an_invocations_metrics_allocates_per_document_group_not_per_metric() {
    let mut options = Options::default();
    options.service = Some("orders".into());
    options.namespace = Some("Shop".into());
    let settings = Settings::resolve(&options, |_| None).unwrap();
    let event = LambdaEvent::new(Payload(Ok(json!({}))), lambda_context());
    let recorder = EmfRecorder::new();
    let documents = Arc::new(AtomicUsize::new(0));
    let stack = |config| {
        let documents = Arc::clone(&documents);
        ServiceBuilder::new()
            .layer(ContextLayer::new(settings.clone()))
            .layer(MetricsLayer::with_writer(
                recorder.clone(),
                config,
                move |line: &[u8]| {
                    assert!(line.ends_with(b"\n"));
                    documents.fetch_add(1, Ordering::Relaxed);
                },
            ))
            .service(service_fn(|_: Invocation<Payload<Value>>| async {
                record_ten_counters();
                Ok::<_, Diagnostic>(())
            }))
    };
    let mut writing = stack(settings.metrics().cloned());
    let mut recording_only = stack(None);

    metrics::with_local_recorder(&recorder, || {
        // The cold start (its ColdStart document), and the first write, after which the
        // thread keeps its document buffers.
        assert!(ready(writing.call(event.clone())).is_ok());
        assert!(ready(recording_only.call(event.clone())).is_ok());
        for _ in 0..3 {
            let before = documents.load(Ordering::Relaxed);
            let recorded = allocation_counter::measure(|| {
                assert!(ready(recording_only.call(event.clone())).is_ok());
            });
            let written = allocation_counter::measure(|| {
                assert!(ready(writing.call(event.clone())).is_ok());
            });
            assert_eq!(
                documents.load(Ordering::Relaxed),
                before + 1,
                "one document"
            );
            // The list of document groups, and the group's dimensions, metrics and their two
            // texts: not one allocation per metric, dimension or string.
            let writing = written.count_total - recorded.count_total;
            assert!(writing <= 5, "writing 10 metrics allocated {writing} times");
        }
    });
}

#[test]
fn fifty_thousand_values_of_a_label_keep_at_most_a_few_mebibytes() {
    let mut options = Options::default();
    options.service = Some("orders".into());
    options.namespace = Some("Shop".into());
    let settings = Settings::resolve(&options, |_| None).unwrap();
    let recorder = EmfRecorder::new();
    let mut stack = ServiceBuilder::new()
        .layer(ContextLayer::new(settings.clone()))
        .layer(MetricsLayer::with_writer(
            recorder.clone(),
            settings.metrics().cloned(),
            |_: &[u8]| {},
        ))
        .service(service_fn(
            |invocation: Invocation<Payload<Value>>| async move {
                let first = invocation
                    .event
                    .0
                    .ok()
                    .and_then(|v| v.as_u64())
                    .unwrap_or(0);
                for user in first..first + 1_000 {
                    metrics::counter!("Logins", "user" => user.to_string()).increment(1);
                }
                Ok::<_, Diagnostic>(())
            },
        ));
    let event = |first: u64| LambdaEvent::new(Payload(Ok(json!(first))), lambda_context());
    metrics::with_local_recorder(&recorder, || {
        assert!(ready(stack.call(event(0))).is_ok());
        let kept = allocation_counter::measure(|| {
            for invocation in 1..50 {
                assert!(ready(stack.call(event(invocation * 1_000))).is_ok());
            }
        });
        // Each key registered costs about 300 bytes; 4,096 are kept at most (1.0 MB measured,
        // against 14.5 MB when every key was kept).
        assert!(
            kept.bytes_current < 3 << 20,
            "49,000 more label values kept {} bytes",
            kept.bytes_current
        );
    });
}

#[cfg(feature = "parameters")]
mod support;

/// A cached parameter is an `Arc` shared with the cache: reading it again allocates nothing.
#[cfg(feature = "parameters")]
#[test]
fn a_cached_parameter_is_read_without_allocating() {
    use helve::parameters::{Backend, Parameters};
    use support::{ParameterType, ParametersExtension};

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_extension, parameters) = runtime.block_on(async {
        let extension = ParametersExtension::start("token").await;
        extension.put_parameter("/orders/endpoint", ParameterType::String, "https://orders");
        extension.put_secret_string("orders/db", r#"{"password":"a-long-password"}"#);
        let parameters = Parameters::builder()
            .backend(Backend::Extension)
            .extension_port(extension.port())
            .session_token("token")
            .max_age(std::time::Duration::from_secs(3600))
            .build()
            .unwrap();
        parameters
            .ssm()
            .get::<String>("/orders/endpoint")
            .await
            .unwrap();
        parameters
            .secrets()
            .get::<Value>("orders/db")
            .await
            .unwrap();
        (extension, parameters)
    });
    for _ in 0..3 {
        let read = allocation_counter::measure(|| {
            let endpoint = ready(parameters.ssm().get::<String>("/orders/endpoint")).unwrap();
            assert_eq!(*endpoint, "https://orders");
            let secret = ready(parameters.secrets().get::<Value>("orders/db")).unwrap();
            assert_eq!(secret.expose()["password"], "a-long-password");
        });
        assert_eq!(read.count_total, 0, "{read:?}");
    }
}
