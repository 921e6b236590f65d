//! One HTTP invocation, from the event's bytes to the response's bytes: an HTTP API (payload
//! 2.0) request with a small JSON body, decoded, validated and answered 201 with JSON, through
//! helve's whole stack against the same handler on bare `lambda_http`, side by side.
//!
//! Run with `cargo bench --bench http --features http`.

mod support;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use helve::http::FromRequest;
use helve::http::{IntoResponse, Json, Request, Response, StatusCode, Valid, http};
use helve::{Context, Function, Payload, Settings};
use lambda_http::request::LambdaRequest;
use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use support::{lambda_context, ready};
use tower::Service;
use validator::Validate;

#[derive(Deserialize, Validate)]
struct NewOrder {
    #[validate(length(min = 1, max = 32))]
    sku: String,
    #[validate(range(min = 1, max = 100))]
    quantity: u32,
}

#[derive(Serialize)]
struct Order {
    id: &'static str,
    sku: String,
    quantity: u32,
}

/// The handler as `#[helve::handler]` writes it for
/// `async fn create(Valid(new): Valid<NewOrder>) -> (StatusCode, Json<Order>)`.
async fn helve_create(request: Request, _ctx: Context) -> Response {
    let Valid(new) = match Valid::<NewOrder>::from_request(&request) {
        Ok(valid) => valid,
        Err(problem) => return problem.into_response(),
    };
    let order = Order {
        id: "o-1",
        sku: new.sku,
        quantity: new.quantity,
    };
    (StatusCode::CREATED, Json(order)).into_response()
}

/// The same handler on bare `lambda_http`.
async fn bare_create(
    request: lambda_http::Request,
) -> Result<lambda_http::Response<lambda_http::Body>, lambda_http::Error> {
    let new: NewOrder = serde_json::from_slice(request.body())?;
    new.validate()?;
    let order = Order {
        id: "o-1",
        sku: new.sku,
        quantity: new.quantity,
    };
    Ok(lambda_http::Response::builder()
        .status(201)
        .header("content-type", "application/json")
        .body(lambda_http::Body::Text(serde_json::to_string(&order)?))?)
}

const EVENT: &str = r#"{
  "version": "2.0",
  "routeKey": "POST /orders",
  "rawPath": "/orders",
  "rawQueryString": "",
  "headers": {
    "content-type": "application/json",
    "host": "api.example.com",
    "user-agent": "curl/8.5.0",
    "x-amzn-trace-id": "Root=1-5759e988-bd862e3fe1be46a994272793"
  },
  "requestContext": {
    "accountId": "123456789012",
    "apiId": "api",
    "domainName": "api.example.com",
    "domainPrefix": "api",
    "http": {
      "method": "POST",
      "path": "/orders",
      "protocol": "HTTP/1.1",
      "sourceIp": "192.0.2.1",
      "userAgent": "curl/8.5.0"
    },
    "requestId": "JKJaXmPLvHcESHA=",
    "routeKey": "POST /orders",
    "stage": "$default",
    "time": "23/Nov/2026:18:00:00 +0000",
    "timeEpoch": 1795000000000
  },
  "body": "{\"sku\":\"A-1\",\"quantity\":2}",
  "isBase64Encoded": false
}"#;

/// One invocation: the event decoded from its bytes, answered, the answer encoded.
fn once<E, S>(bytes: Vec<u8>, service: &mut S, context: &lambda_runtime::Context) -> Vec<u8>
where
    E: serde::de::DeserializeOwned,
    S: Service<LambdaEvent<E>>,
    S::Response: Serialize,
    S::Error: std::fmt::Debug,
{
    let event: E = serde_json::from_slice(&bytes).expect("an HTTP event");
    let response = ready(service.call(LambdaEvent::new(event, context.clone()))).expect("answered");
    serde_json::to_vec(&response).expect("serialized")
}

fn bench_http(c: &mut Criterion) {
    // helve answers before a deadline: its timer needs a runtime to register with.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let _entered = runtime.enter();

    let bytes = EVENT.as_bytes().to_vec();
    let context = lambda_context();

    let mut bare = lambda_http::Adapter::from(lambda_http::service_fn(bare_create));
    let settings = Settings::from_lookup(Some("bench"), |_| None).expect("valid settings");
    let mut stack = Function::new(http(helve_create)).into_service(settings, &());

    // Both answer the same status and body.
    let bare_out: serde_json::Value = serde_json::from_slice(&once::<LambdaRequest, _>(
        bytes.clone(),
        &mut bare,
        &context,
    ))
    .expect("JSON");
    let helve_out: serde_json::Value =
        serde_json::from_slice(&once::<Payload<helve::http::HttpEvent>, _>(
            bytes.clone(),
            &mut stack,
            &context,
        ))
        .expect("JSON");
    assert_eq!(bare_out["statusCode"], 201);
    assert_eq!(helve_out["statusCode"], 201);
    assert_eq!(bare_out["body"], helve_out["body"]);

    let bare_allocs = allocation_counter::measure(|| {
        black_box(once::<LambdaRequest, _>(bytes.clone(), &mut bare, &context));
    });
    let helve_allocs = allocation_counter::measure(|| {
        black_box(once::<Payload<helve::http::HttpEvent>, _>(
            bytes.clone(),
            &mut stack,
            &context,
        ));
    });
    println!(
        "allocations per invocation (event bytes clone included): bare lambda_http {} ({} bytes), helve {} ({} bytes)",
        bare_allocs.count_total,
        bare_allocs.bytes_total,
        helve_allocs.count_total,
        helve_allocs.bytes_total
    );

    let mut group = c.benchmark_group("http");
    group.bench_function("bare lambda_http", |b| {
        b.iter_batched(
            || bytes.clone(),
            |bytes| black_box(once::<LambdaRequest, _>(bytes, &mut bare, &context)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("helve", |b| {
        b.iter_batched(
            || bytes.clone(),
            |bytes| {
                black_box(once::<Payload<helve::http::HttpEvent>, _>(
                    bytes, &mut stack, &context,
                ))
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_http);
criterion_main!(benches);
