//! The canonical JSON and the digest of an idempotency key's value in each dialect against
//! `serde_json::to_string` of the same value, for an order of about 1 KB and one of about
//! 64 KB (items with names in several scripts, prices as floats, quantities as integers).
//!
//! Then the CPU an idempotent execution adds with the memory store: a first execution (the
//! in-progress write, the function, the completed record) and a replay (one read of the
//! completed record), against calling the function directly.
//!
//! Run with `cargo bench --bench idempotency --features idempotency`.

mod support;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use helve::idempotency::{self, Dialect, Idempotency, MemoryStore};
use serde_json::{Value, json};
use support::ready;

const NAMES: &[&str] = &[
    "Crème brûlée mix",
    "Smørrebrød board",
    "Matcha 抹茶 tin",
    "Größe L hoodie",
    "Café au lait mug",
    "Jalapeño salsa",
    "Sourdough starter",
    "Ωmega-3 capsules",
];

/// An order with `items` items, shaped like an API Gateway body a handler keys on.
fn order(items: usize) -> Value {
    let lines: Vec<Value> = (0..items)
        .map(|index| {
            let price = 3.99 + (index % 17) as f64 * 1.25;
            json!({
                "sku": format!("SKU-{:06}", index * 7919 % 1_000_000),
                "name": NAMES[index % NAMES.len()],
                "quantity": 1 + index % 5,
                "unitPrice": price,
                "discount": if index % 3 == 0 { json!(0.15) } else { Value::Null },
                "giftWrap": index % 4 == 0,
                "tags": ["seasonal", "ship-fast"],
            })
        })
        .collect();
    json!({
        "orderId": "059f36b4-87a3-44ab-83d2-661975830a7d",
        "customer": {
            "id": "c-48213",
            "name": "Zoë Ångström",
            "email": "zoe@example.com",
            "address": {"street": "Straße 12", "city": "Zürich", "postcode": "8001", "country": "CH"},
        },
        "currency": "EUR",
        "createdAt": 1_733_150_000_123_u64,
        "total": 1234.56,
        "note": "Leave at the door, s'il vous plaît",
        "items": lines,
    })
}

fn bench_size(c: &mut Criterion, name: &str, value: &Value) {
    let size = serde_json::to_string(value).expect("serialises").len();
    let mut group = c.benchmark_group(format!("{name} ({size} bytes)"));
    group.bench_function("serde_json::to_string", |b| {
        b.iter(|| serde_json::to_string(black_box(value)))
    });
    group.bench_function("Python canonical", |b| {
        b.iter(|| Dialect::Python.canonical(black_box(value)))
    });
    group.bench_function("Python digest", |b| {
        b.iter(|| Dialect::Python.digest(black_box(value)))
    });
    group.bench_function("TypeScript canonical", |b| {
        b.iter(|| Dialect::TypeScript.canonical(black_box(value)))
    });
    group.finish();
}

/// What the idempotent function answers: a small order confirmation.
async fn confirm() -> Result<Value, helve::Error> {
    Ok(json!({"order_id": "o-1", "status": "confirmed", "total": 42.5}))
}

fn bench_once(c: &mut Criterion) {
    let key = json!("059f36b4-87a3-44ab-83d2-661975830a7d");
    let fresh = || Idempotency::new(MemoryStore::new()).key_prefix("orders.create");
    let replaying = fresh();
    ready(idempotency::once(&replaying, &key, confirm)).expect("the first execution");

    let mut group = c.benchmark_group("one execution, memory store");
    group.bench_function("the function alone", |b| b.iter(|| ready(confirm())));
    group.bench_function("once, first execution", |b| {
        b.iter_batched(
            fresh,
            |store| ready(idempotency::once(&store, black_box(&key), confirm)).is_ok(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("once, replay", |b| {
        b.iter(|| ready(idempotency::once(&replaying, black_box(&key), confirm)).is_ok())
    });
    group.finish();
}

fn bench_idempotency(c: &mut Criterion) {
    bench_size(c, "1 KB order", &order(4));
    bench_size(c, "64 KB order", &order(420));
    bench_once(c);
}

criterion_group!(benches, bench_idempotency);
criterion_main!(benches);
