//! An object's lines through helve's reader and JSON Lines decoder into chunks of 25 DynamoDB
//! items (the `BatchWriteItem` calls stubbed: each full chunk is handed to `black_box`),
//! against the same loop written by hand with `tokio::io::AsyncBufReadExt::lines` and
//! `serde_json::from_str`. Both build the same items, deterministic ids included, from the
//! same 10 MB object held in memory.
//!
//! `-- --memory` instead streams a 200 MB object from a file through helve's reader and prints
//! the process's peak resident set size, before and after.
//!
//! Run with `cargo bench --bench ingest --features s3,dynamodb`.

mod support;

use std::{collections::HashMap, hint::black_box, io::Write, time::Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use criterion::{Criterion, Throughput};
use helve::s3::{Line, Lines, ObjectCreated};
use serde::{Deserialize, Serialize};
use support::ready;
use tokio::io::{AsyncBufReadExt, BufReader};

/// One line of a batch-inference output.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Output {
    record_id: String,
    model_output: ModelOutput,
}

#[derive(Deserialize)]
struct ModelOutput {
    completion: String,
    tokens: u32,
}

/// The item each line becomes.
#[derive(Serialize)]
struct Item<'a> {
    id: String,
    record_id: &'a str,
    completion: &'a str,
    tokens: u32,
}

type Attributes = HashMap<String, AttributeValue>;

fn line(n: u64) -> String {
    format!(
        "{{\"recordId\":\"rec-{n:08}\",\"modelInput\":{{\"prompt\":\"Summarise transaction {n} for the monthly statement\"}},\"modelOutput\":{{\"completion\":\"Transaction {n}: card payment of {}.{:02} EUR at a grocery store, categorised as food.\",\"tokens\":{}}}}}\n",
        n % 500,
        n % 100,
        40 + n % 60
    )
}

/// Lines of about 250 bytes up to `bytes`.
fn object_bytes(bytes: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(bytes + 512);
    let mut n = 1;
    while data.len() < bytes {
        data.extend_from_slice(line(n).as_bytes());
        n += 1;
    }
    data
}

fn to_item(object: &ObjectCreated, number: u64, output: &Output) -> Attributes {
    let item = Item {
        id: object.item_id(number),
        record_id: &output.record_id,
        completion: &output.model_output.completion,
        tokens: output.model_output.tokens,
    };
    serde_dynamo::to_item(item).expect("an item")
}

/// helve's reader and decoder; returns how many items were made.
async fn with_helve<R: tokio::io::AsyncBufRead + Unpin>(reader: R, object: &ObjectCreated) -> u64 {
    let mut lines = Lines::new(reader);
    let mut chunk: Vec<Attributes> = Vec::with_capacity(25);
    let mut items = 0;
    while let Some(line) = lines.next_line().await {
        let line: Line = line.expect("a line");
        let output: Output = line.decode().expect("an output");
        chunk.push(to_item(object, line.number, &output));
        items += 1;
        if chunk.len() == 25 {
            black_box(&chunk);
            chunk.clear();
        }
    }
    black_box(&chunk);
    items
}

/// The same loop by hand.
async fn by_hand(bytes: &[u8], object: &ObjectCreated) -> u64 {
    let mut lines = BufReader::new(bytes).lines();
    let mut chunk: Vec<Attributes> = Vec::with_capacity(25);
    let mut number = 0;
    while let Some(text) = lines.next_line().await.expect("a line") {
        number += 1;
        let output: Output = serde_json::from_str(&text).expect("an output");
        chunk.push(to_item(object, number, &output));
        if chunk.len() == 25 {
            black_box(&chunk);
            chunk.clear();
        }
    }
    black_box(&chunk);
    number
}

fn throughput(c: &mut Criterion) {
    let data = object_bytes(10 * 1024 * 1024);
    let object = ObjectCreated::new("exports", "batch-output/job-1/part-1.jsonl.out");
    let items = ready(by_hand(&data, &object));
    assert_eq!(ready(with_helve(&data[..], &object)), items);
    let mut group = c.benchmark_group(format!("10 MB object ({items} lines) into items"));
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.sample_size(20);
    group.bench_function("hand-written (AsyncBufReadExt::lines, serde_json)", |b| {
        b.iter(|| ready(by_hand(&data, &object)))
    });
    group.bench_function("helve (Lines, Line::decode)", |b| {
        b.iter(|| ready(with_helve(&data[..], &object)))
    });
    group.finish();
}

/// Peak resident set size of this process, in MiB: `VmHWM` of `/proc/self/status` (not
/// `getrusage`, whose maximum survives `exec` and so starts at cargo's own).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kilobytes| kilobytes / 1024.0)
}

fn memory() {
    let at_start = peak_rss_mib();
    let path = std::env::temp_dir().join(format!("helve-ingest-{}.jsonl", std::process::id()));
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("a file"));
        let (mut written, mut n) = (0usize, 1);
        while written < 200 * 1024 * 1024 {
            let text = line(n);
            file.write_all(text.as_bytes()).expect("written");
            written += text.len();
            n += 1;
        }
    }
    let size = std::fs::metadata(&path)
        .map(|m| m.len())
        .unwrap_or_default();
    let before = peak_rss_mib();
    let object = ObjectCreated::new("exports", "big.jsonl");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let started = Instant::now();
    let items = runtime.block_on(async {
        let file = tokio::fs::File::open(&path).await.expect("the file");
        with_helve(BufReader::new(file), &object).await
    });
    let elapsed = started.elapsed();
    let after = peak_rss_mib();
    let _ = std::fs::remove_file(&path);
    println!(
        "{} MB object, {items} lines, read in {:.2} s: peak RSS {at_start:.1} MiB at start, {before:.1} MiB once the file is written, {after:.1} MiB after reading it",
        size / 1_000_000,
        elapsed.as_secs_f64()
    );
}

fn main() {
    if std::env::args().any(|arg| arg == "--memory") {
        memory();
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    throughput(&mut criterion);
    criterion.final_summary();
}
