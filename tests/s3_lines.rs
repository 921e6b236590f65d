//! `helve::s3::lines` against moto's S3 on 127.0.0.1: a 10,000-line object read whole and
//! resumed from an offset with a ranged GET, a gzip object decompressed as it streams, keys
//! with spaces, `+`, `%` and non-ASCII (as an S3 notification encodes them), and bad lines
//! among good ones reported by number while the rest are read.
//!
//! Needs moto (`python3 -m pip install "moto[server]"`): without it the tests say they are
//! skipped, except on CI, where they fail.

mod support;

use aws_sdk_s3::{
    Client,
    config::{BehaviorVersion, Credentials, Region},
    primitives::ByteStream,
};
use helve::s3::{LineError, ObjectCreated, S3Notification, lines};
use serde_json::json;
use support::Moto;
use tokio::io::AsyncReadExt;

const BUCKET: &str = "exports";

fn client(endpoint: &str) -> Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .http_client(helve::aws::https_client())
        .build();
    Client::from_conf(config)
}

async fn setup(test: &str) -> Option<(Moto, Client)> {
    let moto = Moto::start_or_skip(test)?;
    let client = client(moto.endpoint());
    client
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap_or_else(|error| panic!("{}", aws_sdk_s3::error::DisplayErrorContext(error)));
    Some((moto, client))
}

async fn put(client: &Client, key: &str, body: Vec<u8>, encoding: Option<&str>) {
    client
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .set_content_encoding(encoding.map(str::to_owned))
        .body(ByteStream::from(body))
        .send()
        .await
        .unwrap_or_else(|error| panic!("{}", aws_sdk_s3::error::DisplayErrorContext(error)));
}

/// `count` JSON lines, `{"recordId": "r-00001", "n": 1}`, each ending in `\n`.
fn json_lines(count: u64) -> String {
    (1..=count)
        .map(|n| format!("{}\n", json!({"recordId": format!("r-{n:05}"), "n": n})))
        .collect()
}

/// The object as a notification names it: its key encoded as S3 encodes it.
fn notified(key: &str) -> ObjectCreated {
    let encoded: String = key
        .bytes()
        .map(|byte| match byte {
            b' ' => "+".to_owned(),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'-' | b'.' | b'_' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect();
    let event = json!({"Records": [{
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": encoded}}
    }]});
    let mut objects = S3Notification::from_value(&event)
        .expect("a notification")
        .into_objects();
    objects.remove(0)
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Output {
    record_id: String,
    n: u64,
}

#[tokio::test]
async fn a_10000_line_object_streams_whole_and_resumes_at_an_offset() {
    let Some((_moto, client)) =
        setup("a_10000_line_object_streams_whole_and_resumes_at_an_offset").await
    else {
        return;
    };
    let body = json_lines(10_000);
    put(
        &client,
        "batch-output/job-1/part-1.jsonl",
        body.clone().into_bytes(),
        None,
    )
    .await;
    let object = notified("batch-output/job-1/part-1.jsonl");

    let mut read = lines(&client, &object, None).await.expect("GetObject");
    let (mut count, mut resume_at) = (0u64, None);
    while let Some(line) = read.next_line().await {
        let line = line.expect("a good line");
        let output: Output = line.decode().expect("a record");
        assert_eq!(output.n, line.number);
        if line.number == 5_001 {
            resume_at = Some((line.number, line.offset));
        }
        count += 1;
    }
    assert_eq!(count, 10_000);
    assert_eq!(read.offset(), body.len() as u64);

    // A later run resumes at line 5,001 with `Range: bytes=N-`.
    let mut resumed = lines(&client, &object, resume_at)
        .await
        .expect("a ranged GetObject");
    let first = resumed
        .next_line()
        .await
        .and_then(Result::ok)
        .expect("line 5001");
    assert_eq!(first.number, 5_001);
    assert_eq!(
        first.decode::<Output>().ok().map(|o| o.record_id),
        Some("r-05001".to_owned())
    );
    let mut rest = 1;
    while resumed.next_line().await.is_some() {
        rest += 1;
    }
    assert_eq!(rest, 5_000);
}

#[tokio::test]
async fn a_gzip_object_is_decompressed_as_it_streams() {
    let Some((_moto, client)) = setup("a_gzip_object_is_decompressed_as_it_streams").await else {
        return;
    };
    let body = json_lines(2_000);
    let mut gzip = Vec::new();
    async_compression::tokio::bufread::GzipEncoder::new(body.as_bytes())
        .read_to_end(&mut gzip)
        .await
        .expect("gzip");
    // By its key's suffix, and by its Content-Encoding.
    put(&client, "out/part-1.jsonl.gz", gzip.clone(), None).await;
    put(&client, "out/part-2.jsonl", gzip, Some("gzip")).await;
    for key in ["out/part-1.jsonl.gz", "out/part-2.jsonl"] {
        let mut read = lines(&client, &notified(key), None)
            .await
            .expect("GetObject");
        let mut last = None;
        while let Some(line) = read.next_line().await {
            last = Some(
                line.expect("a good line")
                    .decode::<Output>()
                    .expect("a record")
                    .n,
            );
        }
        assert_eq!(last, Some(2_000), "{key}");
    }
    // Resuming a gzip object reads from the start and skips to the line.
    let mut resumed = lines(
        &client,
        &notified("out/part-1.jsonl.gz"),
        Some((1_500, 99_999)),
    )
    .await
    .expect("GetObject");
    let first = resumed
        .next_line()
        .await
        .and_then(Result::ok)
        .expect("a line");
    assert_eq!(first.number, 1_500);
    assert_eq!(first.decode::<Output>().ok().map(|o| o.n), Some(1_500));
}

#[tokio::test]
async fn keys_with_spaces_plus_signs_percents_and_non_ascii_are_found() {
    let Some((_moto, client)) =
        setup("keys_with_spaces_plus_signs_percents_and_non_ascii_are_found").await
    else {
        return;
    };
    for key in [
        "batch-output/job 1/red flower.jsonl",
        "batch-output/a+b/c%2Bd.jsonl",
        "batch-output/100% done/x.jsonl",
        "batch-output/café/日本.jsonl",
    ] {
        put(&client, key, json_lines(3).into_bytes(), None).await;
        let object = notified(key);
        assert_eq!(
            object.key, key,
            "the notification's key decodes to the object's"
        );
        let mut read = lines(&client, &object, None).await.expect("GetObject");
        let mut count = 0;
        while let Some(line) = read.next_line().await {
            line.expect("a good line");
            count += 1;
        }
        assert_eq!(count, 3, "{key}");
    }
}

#[tokio::test]
async fn bad_lines_are_reported_by_number_and_the_good_ones_read() {
    let Some((_moto, client)) =
        setup("bad_lines_are_reported_by_number_and_the_good_ones_read").await
    else {
        return;
    };
    let body = format!(
        "{}\nnot json\n{}\n{}\n{}\r\n",
        json!({"recordId": "r-1", "n": 1}),
        json!({"recordId": "r-3", "n": "three"}),
        "x".repeat(300),
        json!({"recordId": "r-5", "n": 5}),
    );
    put(&client, "mixed.jsonl", body.into_bytes(), None).await;
    let mut read = lines(&client, &notified("mixed.jsonl"), None)
        .await
        .expect("GetObject")
        .max_line(200);
    let mut good = Vec::new();
    let mut bad = Vec::new();
    while let Some(line) = read.next_line().await {
        match line.and_then(|line| line.decode::<Output>()) {
            Ok(output) => good.push(output.n),
            Err(error @ (LineError::Invalid { .. } | LineError::TooLong { .. })) => {
                bad.push(error.to_string());
            }
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(good, [1, 5]);
    assert_eq!(bad.len(), 3, "{bad:?}");
    assert!(
        bad[0].starts_with("line 2 (at byte 25) does not decode: expected"),
        "{}",
        bad[0]
    );
    assert!(
        bad[1].starts_with(
            "line 3 (at byte 34) does not decode: at n: invalid type: string, expected u64"
        ),
        "{}",
        bad[1]
    );
    assert!(
        bad[2].starts_with("line 4 (at byte 65) is longer than 200 bytes"),
        "{}",
        bad[2]
    );
}

#[tokio::test]
async fn an_object_that_is_not_there_is_a_getobject_error_naming_it() {
    let Some((_moto, client)) =
        setup("an_object_that_is_not_there_is_a_getobject_error_naming_it").await
    else {
        return;
    };
    let error = lines(&client, &notified("missing.jsonl"), None)
        .await
        .err()
        .map(|error| error.to_string());
    assert!(
        error.as_deref().is_some_and(|e| e
            .starts_with("GetObject of s3://exports/missing.jsonl failed: ")
            && e.contains("NoSuchKey")),
        "{error:?}"
    );
}
