//! What a handler of S3 notifications sees, from each way a notification arrives.

use serde_json::{Value, json};

use super::*;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// The S3 event of one object at `key` (as S3 encodes it).
fn s3_event(key: &str) -> Value {
    json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "eu-west-1",
        "eventTime": "2026-12-03T09:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "ingest",
            "bucket": {"name": "exports", "arn": "arn:aws:s3:::exports"},
            "object": {"key": key, "size": 2048, "eTag": "\"9b2cf535f27731c974343645a3985328\"", "versionId": "v-3", "sequencer": "0066A1B2C3D4E5F601"}
        }
    }]})
}

fn notification(value: &Value) -> S3Notification {
    S3Notification::from_value(value).unwrap_or_else(|reason| panic!("{reason}: {value}"))
}

fn the_object() -> ObjectCreated {
    ObjectCreated {
        bucket: "exports".to_owned(),
        key: "batch-output/job 1/part+1.jsonl".to_owned(),
        size: Some(2048),
        etag: Some("9b2cf535f27731c974343645a3985328".to_owned()),
        version_id: Some("v-3".to_owned()),
        sequencer: Some("0066A1B2C3D4E5F601".to_owned()),
        event_time: Some("2026-12-03T09:00:00.000Z".to_owned()),
        event_name: "ObjectCreated:Put".to_owned(),
        region: Some("eu-west-1".to_owned()),
    }
}

const ENCODED: &str = "batch-output/job+1/part%2B1.jsonl";

#[test]
fn an_object_key_is_decoded_plus_first_then_percent() {
    for (encoded, decoded) in [
        ("red+flower.jpg", "red flower.jpg"),
        ("a%2Bb.txt", "a+b.txt"),
        ("100%25+done", "100% done"),
        ("dir/sub%2Fpart/file", "dir/sub/part/file"),
        ("caf%C3%A9/%E6%97%A5%E6%9C%AC.json", "café/日本.json"),
        ("dt%3D2026-12-03/x.jsonl", "dt=2026-12-03/x.jsonl"),
        ("plain/key.json", "plain/key.json"),
        ("50%+off", "50% off"),
        ("trailing%2", "trailing%2"),
        ("%zz", "%zz"),
        ("bad%FFutf8", "bad\u{fffd}utf8"),
    ] {
        assert_eq!(decode_key(encoded), decoded, "{encoded}");
    }
}

#[test]
fn an_s3_event_to_lambda_gives_its_objects_with_the_key_decoded() {
    assert_eq!(notification(&s3_event(ENCODED)).objects(), [the_object()]);
    // The event of the runtime's own fixtures.
    let objects = notification(&fixture("example-s3-event")).into_objects();
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0].bucket, "sourcebucket");
    assert_eq!(objects[0].key, "Happy Face.jpg");
    assert_eq!(objects[0].size, Some(1024));
}

#[test]
fn the_body_of_an_sqs_message_from_s3_is_the_same_event() {
    let body = s3_event(ENCODED).to_string();
    let decoded: S3Notification = serde_json::from_str(&body).unwrap();
    assert_eq!(decoded.objects(), [the_object()]);
}

#[test]
fn an_sns_envelope_carries_the_event_in_its_message() {
    let envelope = json!({
        "Type": "Notification",
        "MessageId": "b3f6c1c2-0a4f-5c7e-9d1a-2f3e4d5c6b7a",
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:uploads",
        "Subject": "Amazon S3 Notification",
        "Message": s3_event(ENCODED).to_string(),
        "Timestamp": "2026-12-03T09:00:00.100Z"
    });
    assert_eq!(notification(&envelope).objects(), [the_object()]);
    // SNS to Lambda: the same envelope inside an SNS record.
    let sns_event = json!({"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "Sns": {"Type": "Notification", "Message": s3_event(ENCODED).to_string()}
    }]});
    assert_eq!(notification(&sns_event).objects(), [the_object()]);
}

#[test]
fn an_eventbridge_event_from_s3_gives_its_object() {
    let event = json!({
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-12-03T09:00:00Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:s3:::exports"],
        "detail": {
            "version": "0",
            "bucket": {"name": "exports"},
            "object": {"key": ENCODED, "size": 2048, "etag": "9b2cf535f27731c974343645a3985328", "version-id": "v-3", "sequencer": "0066A1B2C3D4E5F601"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "reason": "PutObject"
        }
    });
    let objects = notification(&event).into_objects();
    assert_eq!(
        objects,
        [ObjectCreated {
            event_name: "Object Created".to_owned(),
            event_time: Some("2026-12-03T09:00:00Z".to_owned()),
            ..the_object()
        }]
    );
}

#[test]
fn s3s_test_event_has_no_objects_and_says_so() {
    let test = json!({
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-12-03T08:59:00.000Z",
        "Bucket": "exports",
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"
    });
    let decoded = notification(&test);
    assert!(decoded.is_test_event());
    assert!(decoded.objects().is_empty());
}

#[test]
fn a_message_that_is_no_notification_says_what_was_expected_without_its_values() {
    for (value, expected) in [
        (json!("secret-text"), "it is not a JSON object"),
        (
            json!({"orderId": "secret-order"}),
            "it has none of `Records`, an SNS `Message`, `source: aws.s3` or `Event: s3:TestEvent`",
        ),
        (
            json!({"Records": [{"eventSource": "aws:sqs", "body": "secret-body"}]}),
            "`Records[0]`: its `eventSource` is neither `aws:s3` nor `aws:sns`",
        ),
        (
            json!({"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"}, "object": {"size": 1}}}]}),
            "`Records[0]`: `s3.object` has no `key`",
        ),
        (
            json!({"Type": "Notification", "Message": "secret {not json"}),
            "the SNS envelope's `Message`: it is not JSON (line 1 column 1)",
        ),
        (
            json!({"source": "aws.s3", "detail": {"bucket": {"name": "b"}}}),
            "the EventBridge event from aws.s3: `detail`: it has no `object` object",
        ),
    ] {
        let reason = S3Notification::from_value(&value).unwrap_err();
        assert!(reason.contains(expected), "{reason}");
        assert!(!reason.contains("secret"), "{reason}");
    }
}

#[test]
fn an_items_id_is_the_same_for_a_redelivery_and_new_for_a_new_version() {
    let object = the_object();
    assert_eq!(object.item_id(42), "1641d14b384b5954efed8d375643bfdc");
    assert_eq!(
        object.item_id(42),
        notification(&s3_event(ENCODED)).objects()[0].item_id(42)
    );
    assert_ne!(object.item_id(42), object.item_id(43));
    // Without versioning the eTag stands for the version (computed with Python's hashlib).
    let unversioned = ObjectCreated {
        version_id: None,
        ..the_object()
    };
    assert_eq!(unversioned.item_id(42), "19c2479f1022863e9bffe279c3a3779e");
}

#[test]
fn envelopes_nest_no_deeper_than_sns_around_s3() {
    let once = json!({"Type": "Notification", "Message": s3_event(ENCODED).to_string()});
    let twice = json!({"Type": "Notification", "Message": once.to_string()});
    let thrice = json!({"Type": "Notification", "Message": twice.to_string()});
    assert_eq!(notification(&twice).objects(), [the_object()]);
    let reason = S3Notification::from_value(&thrice).unwrap_err();
    assert!(reason.contains("envelopes nest deeper"), "{reason}");
}

#[cfg(feature = "batch")]
mod through_sqs {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use super::*;
    use crate::Context;
    use crate::batch::{SqsMessage, batch};
    use crate::handler::Handler;

    fn sqs_record(id: &str, body: &str) -> Value {
        json!({
            "messageId": id,
            "receiptHandle": "AQEB",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:uploads",
            "awsRegion": "eu-west-1"
        })
    }

    #[tokio::test]
    async fn the_test_event_is_acknowledged_without_the_handler_and_a_bad_message_fails_alone() {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        let handler = batch(move |message: SqsMessage<S3Notification>, _ctx: Context| {
            let seen = Arc::clone(&seen);
            async move {
                seen.fetch_add(message.body().objects().len(), Ordering::SeqCst);
                Ok::<_, crate::Error>(())
            }
        });
        let test_event =
            json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "exports"});
        let event = json!({"Records": [
            sqs_record("m-test", &test_event.to_string()),
            sqs_record("m-object", &s3_event(ENCODED).to_string()),
            sqs_record("m-bad", r#"{"orderId": "o-1"}"#),
        ]});
        let raw: crate::batch::RawBatch = serde_json::from_value(event).unwrap();
        let context = Context::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build();
        let response = handler.call(raw, context, &()).await.ok();
        let failures: Vec<String> = response
            .map(|response| serde_json::to_value(response).unwrap())
            .and_then(|value| value["batchItemFailures"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|failure| failure["itemIdentifier"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(failures, ["m-bad"]);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "the handler ran for m-object only"
        );
    }
}

mod streaming {
    use tokio::io::BufReader;

    use super::*;

    /// Every line of `bytes`, read through a buffer of `capacity` bytes.
    async fn read_all(bytes: &[u8], capacity: usize, max: usize) -> Vec<Result<Line, String>> {
        let mut lines = Lines::new(BufReader::with_capacity(capacity, bytes)).max_line(max);
        let mut all = Vec::new();
        while let Some(line) = lines.next_line().await {
            all.push(line.map_err(|error| error.to_string()));
        }
        assert_eq!(
            lines.offset(),
            bytes.len() as u64,
            "the offset reaches the end"
        );
        all
    }

    fn line(number: u64, offset: u64, text: &str) -> Result<Line, String> {
        Ok(Line {
            number,
            offset,
            text: text.to_owned(),
        })
    }

    #[tokio::test]
    async fn lines_end_at_lf_or_crlf_and_a_last_line_needs_no_ending() {
        let text = b"first\r\nsecond\n\nlast";
        for capacity in [1, 3, 64] {
            assert_eq!(
                read_all(text, capacity, 100).await,
                [
                    line(1, 0, "first"),
                    line(2, 7, "second"),
                    line(3, 14, ""),
                    line(4, 15, "last"),
                ],
                "read {capacity} bytes at a time"
            );
        }
        assert!(read_all(b"", 4, 100).await.is_empty());
        assert_eq!(read_all(b"one\n", 4, 100).await, [line(1, 0, "one")]);
    }

    #[tokio::test]
    async fn a_line_over_the_maximum_is_reported_and_skipped_without_being_kept() {
        let text = format!("ok\n{}\nafter\n", "x".repeat(50));
        assert_eq!(
            read_all(text.as_bytes(), 8, 10).await,
            [
                line(1, 0, "ok"),
                Err("line 2 (at byte 3) is longer than 10 bytes: skipped".to_owned()),
                line(3, 54, "after"),
            ]
        );
    }

    #[tokio::test]
    async fn a_line_that_is_not_utf8_is_reported_and_the_next_one_read() {
        let text = b"a\n\xff\xfe\nb\n";
        assert_eq!(
            read_all(text, 2, 100).await,
            [
                line(1, 0, "a"),
                Err("line 2 (at byte 2) is not UTF-8".to_owned()),
                line(3, 5, "b"),
            ]
        );
    }

    #[tokio::test]
    async fn lines_read_from_a_resumed_offset_keep_their_numbers() {
        let rest = b"line 7\nline 8\n";
        let mut lines = Lines::starting_at(&rest[..], 7, 120);
        let first = lines.next_line().await.and_then(Result::ok);
        assert_eq!(first.map(|l| (l.number, l.offset)), Some((7, 120)));
        let second = lines.next_line().await.and_then(Result::ok);
        assert_eq!(second.map(|l| (l.number, l.offset)), Some((8, 127)));
    }

    #[cfg(feature = "validate")]
    #[test]
    fn a_json_line_that_fails_validation_names_the_field_without_its_value() {
        #[derive(Debug, serde::Deserialize, validator::Validate)]
        struct Scored {
            #[validate(range(min = 0, max = 100))]
            score: i64,
        }
        let line = |text: &str| Line {
            number: 4,
            offset: 120,
            text: text.to_owned(),
        };
        assert!(line(r#"{"score": 42}"#).decode_valid::<Scored>().is_ok());
        let error = line(r#"{"score": 4242}"#)
            .decode_valid::<Scored>()
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("line 4 (at byte 120) does not decode: it does not validate: score"),
            "{error}"
        );
        assert!(!error.contains("4242"), "{error}");
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Output {
        record_id: String,
        tokens: u32,
    }

    #[test]
    fn a_json_line_decodes_and_a_bad_one_names_its_line_and_path_without_its_value() {
        let good = Line {
            number: 3,
            offset: 90,
            text: r#"{"recordId": "r-1", "tokens": 12}"#.to_owned(),
        };
        assert_eq!(
            good.decode::<Output>().ok(),
            Some(Output {
                record_id: "r-1".to_owned(),
                tokens: 12
            })
        );
        let wrong = Line {
            text: r#"{"recordId": "r-1", "tokens": "secret-many"}"#.to_owned(),
            ..good.clone()
        };
        let error = wrong.decode::<Output>().unwrap_err().to_string();
        assert!(
            error.starts_with(
                "line 3 (at byte 90) does not decode: at tokens: invalid type: string"
            ),
            "{error}"
        );
        assert!(!error.contains("secret"), "{error}");
        let not_json = Line {
            text: "secret {".to_owned(),
            ..good
        };
        let error = not_json.decode::<Output>().unwrap_err().to_string();
        assert!(
            error.starts_with("line 3 (at byte 90) does not decode: expected"),
            "{error}"
        );
        assert!(!error.contains("secret"), "{error}");
    }
}
