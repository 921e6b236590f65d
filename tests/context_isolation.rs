//! Interleaved invocations each see only their own context, as when Lambda Managed Instances
//! run several invocations in one process.

use std::time::Duration;

use helve::{Context, Function, Payload, Settings};
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};
use tower::{Service, ServiceExt};

/// Checks, at every await point, that the handler's context and the task's current context are
/// the invocation's own; answers with what it saw.
async fn check_ids(event: Value, ctx: Context) -> Result<Value, helve::Error> {
    let expected = event["request_id"].as_str().unwrap_or_default().to_owned();
    let pauses = event["pauses"].as_u64().unwrap_or(0);
    for pause in 0..pauses {
        let current = helve::context().ok_or_else(|| helve::Error::msg("no current context"))?;
        if ctx.request_id() != expected || current.request_id() != expected {
            return Err(helve::Error::msg(format!(
                "step {pause}: expected {expected}, handler saw {}, current {}",
                ctx.request_id(),
                current.request_id()
            )));
        }
        tokio::time::sleep(Duration::from_millis(pause % 3)).await;
        tokio::task::yield_now().await;
    }
    Ok(json!({ "request_id": ctx.request_id(), "cold_start": ctx.cold_start() }))
}

fn event(request_id: &str, pauses: u64) -> LambdaEvent<Payload<Value>> {
    let mut context = lambda_runtime::Context::default();
    context.request_id = request_id.to_owned();
    LambdaEvent::new(
        Payload(Ok(json!({ "request_id": request_id, "pauses": pauses }))),
        context,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_invocations_never_see_each_others_ids() {
    let settings = Settings::from_lookup(Some("isolation"), |_| None).unwrap();
    let service = Function::new(check_ids).into_service(settings, &());

    // Four workers, as `AWS_LAMBDA_MAX_CONCURRENCY=4` gives: each owns a clone of the service
    // and runs its invocations one after the other; the workers run at the same time.
    let mut workers = Vec::new();
    for worker in 0..4 {
        let mut service = service.clone();
        workers.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for invocation in 0..10 {
                let id = format!("req-{worker}-{invocation}");
                let answer = service
                    .ready()
                    .await
                    .unwrap()
                    .call(event(&id, 3 + (worker + invocation) % 5))
                    .await;
                answers.push((id, answer));
            }
            answers
        }));
    }

    let mut cold_starts = 0;
    for worker in workers {
        for (id, answer) in worker.await.unwrap() {
            let answer = answer.unwrap_or_else(|diagnostic| panic!("{id}: {diagnostic:?}"));
            assert_eq!(answer["request_id"], id.as_str());
            if answer["cold_start"] == true {
                cold_starts += 1;
            }
        }
    }
    assert_eq!(cold_starts, 1, "exactly one invocation is the cold start");
}
