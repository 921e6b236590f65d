use super::presets::is_function_url;
use super::*;
use serde_json::{Value, json};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/",
            $name,
            ".json"
        ))
    };
}

/// Extracts from a fixture and returns the id and source.
fn found(body: &[u8]) -> Option<(String, Preset)> {
    extract(&Bytes::copy_from_slice(body)).map(|found| (found.as_str().to_owned(), found.source()))
}

/// A copy of a real payload changed by `edit`.
fn edited(body: &[u8], edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut event: Value = serde_json::from_slice(body).expect("fixture is json");
    edit(&mut event);
    serde_json::to_vec(&event).expect("value serializes")
}

/// The object at `pointer` in `event`, which the test expects to exist.
fn object<'v>(event: &'v mut Value, pointer: &str) -> &'v mut serde_json::Map<String, Value> {
    event
        .pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .expect("fixture has this object")
}

fn some(id: &str, source: Preset) -> Option<(String, Preset)> {
    Some((id.to_owned(), source))
}

// --- One test per preset, on real payloads ---

#[test]
fn a_rest_api_request_is_correlated_by_its_request_id() {
    assert_eq!(
        found(fixture!("example-apigw-request")),
        some(
            "deef4878-7910-11e6-8f14-25afc3e9ae33",
            Preset::ApiGatewayRest
        )
    );
}

#[test]
fn an_http_api_request_is_correlated_by_its_request_id_not_its_trace_header() {
    assert_eq!(
        found(fixture!("example-apigw-v2-request-no-authorizer")),
        some("LV7fzho-PHcEJPw=", Preset::ApiGatewayHttp)
    );
}

#[test]
fn an_http_api_request_in_payload_format_1_is_told_apart_from_a_rest_api_request() {
    let body = edited(fixture!("example-apigw-request"), |event| {
        object(event, "").insert("version".into(), json!("1.0"));
    });
    assert_eq!(
        found(&body),
        some(
            "deef4878-7910-11e6-8f14-25afc3e9ae33",
            Preset::ApiGatewayHttp
        )
    );
}

#[test]
fn a_function_url_request_is_correlated_by_its_request_id() {
    assert_eq!(
        found(fixture!("lambda_function_url_request")),
        some("MIZRNhJtIAMEMDw=", Preset::FunctionUrl)
    );
}

#[test]
fn a_websocket_event_is_correlated_by_its_request_id() {
    assert_eq!(
        found(fixture!("example-apigw-websocket-request")),
        some(
            "deef4878-7910-11e6-8f14-25afc3e9ae33",
            Preset::ApiGatewayWebSocket
        )
    );
}

#[test]
fn an_appsync_authorizer_request_is_correlated_by_its_request_id() {
    assert_eq!(
        found(fixture!("example-appsync-lambda-auth-request")),
        some(
            "f4081827-1111-4444-5555-5cf4695f339f",
            Preset::AppSyncAuthorizer
        )
    );
}

#[test]
fn an_alb_request_is_correlated_by_its_trace_header() {
    assert_eq!(
        found(fixture!("example-alb-lambda-target-request-headers-only")),
        some("Root=1-5c34e93e-4dea0086f9763ac0667b115a", Preset::Alb)
    );
}

#[test]
fn an_alb_request_with_multi_value_headers_is_correlated_by_its_first_trace_header() {
    assert_eq!(
        found(fixture!(
            "example-alb-lambda-target-request-multivalue-headers"
        )),
        some("Root=1-5c34e7d4-00ca239424b68028d4c56d68", Preset::Alb)
    );
}

#[test]
fn a_vpc_lattice_2_request_is_correlated_by_its_first_trace_header() {
    // The fixtures carry no trace header; Lattice 2.0 sends every header as an array.
    let body = edited(fixture!("example-vpc-lattice-v2-request"), |event| {
        object(event, "/headers").insert(
            "x-amzn-trace-id".into(),
            json!(["Root=1-66cf5a37-2c9d1e6b0d7f4a0e8c1b3a59", "Root=ignored"]),
        );
    });
    assert_eq!(
        found(&body),
        some(
            "Root=1-66cf5a37-2c9d1e6b0d7f4a0e8c1b3a59",
            Preset::VpcLattice
        )
    );
}

#[test]
fn a_vpc_lattice_1_request_is_correlated_by_its_trace_header() {
    let body = edited(fixture!("example-vpc-lattice-v1-request"), |event| {
        object(event, "/headers").insert(
            "x-amzn-trace-id".into(),
            json!("Root=1-66cf5a37-2c9d1e6b0d7f4a0e8c1b3a59"),
        );
    });
    assert_eq!(
        found(&body),
        some(
            "Root=1-66cf5a37-2c9d1e6b0d7f4a0e8c1b3a59",
            Preset::VpcLattice
        )
    );
}

#[test]
fn a_vpc_lattice_request_without_a_trace_header_is_not_correlated() {
    assert_eq!(found(fixture!("example-vpc-lattice-v2-request")), None);
    assert_eq!(found(fixture!("example-vpc-lattice-v1-request")), None);
}

#[test]
fn an_eventbridge_event_is_correlated_by_its_id() {
    assert_eq!(
        found(fixture!("example-eventbridge-event-obj")),
        some("7bf73129-1428-4cd3-a780-95db273d1602", Preset::EventBridge)
    );
    assert_eq!(
        found(fixture!("example-eventbridge-schedule")),
        some("53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", Preset::EventBridge)
    );
}

#[test]
fn an_appsync_resolver_invocation_is_correlated_by_its_trace_header() {
    assert_eq!(
        found(fixture!("example-appsync-direct-resolver")),
        some(
            "Root=1-68713e21-7a03739120ad60703e794b22",
            Preset::AppSyncResolver
        )
    );
}

#[test]
fn an_s3_object_lambda_request_is_correlated_by_its_request_id() {
    assert_eq!(
        found(fixture!("example-s3-object-lambda-event-get-object-iam")),
        some("requestId", Preset::S3ObjectLambda)
    );
}

#[test]
fn an_sqs_batch_is_correlated_by_its_first_message_id() {
    let body = edited(fixture!("example-sqs-event"), |event| {
        let records = event["Records"]
            .as_array_mut()
            .expect("fixture has records");
        let mut second = records[0].clone();
        second["messageId"] = json!("MessageID_2");
        records.push(second);
    });
    assert_eq!(found(&body), some("MessageID_1", Preset::Sqs));
}

#[test]
fn an_sns_notification_is_correlated_by_its_message_id() {
    assert_eq!(
        found(fixture!("example-sns-event")),
        some("82833b5c-8d5d-56d0-b0e1-7511f8253eb8", Preset::Sns)
    );
}

#[test]
fn an_s3_notification_is_correlated_by_its_s3_request_id() {
    assert_eq!(
        found(fixture!("example-s3-event")),
        some("C3D13FE58DE4C810", Preset::S3)
    );
}

#[test]
fn a_kinesis_batch_is_correlated_by_its_first_event_id() {
    assert_eq!(
        found(fixture!("example-kinesis-event")),
        some(
            "shardId-000000000000:49568167373333333333333333333333333333333333333333333333",
            Preset::Kinesis
        )
    );
}

#[test]
fn a_dynamodb_stream_batch_is_correlated_by_its_first_event_id() {
    assert_eq!(
        found(fixture!("example-dynamodb-event")),
        some("f07f8ca4b0b26cb9c4e5e77e69f274ee", Preset::DynamoDb)
    );
}

// --- The x-correlation-id header ---

fn with_header(body: &[u8], headers: &str, name: &str, value: Value) -> Vec<u8> {
    edited(body, |event| {
        object(event, headers).insert(name.into(), value);
    })
}

#[test]
fn an_x_correlation_id_header_overrides_the_preset_of_every_http_event() {
    let cases: [(&[u8], &str, Value); 6] = [
        (
            fixture!("example-apigw-request"),
            "/headers",
            json!("from-client"),
        ),
        (
            fixture!("example-apigw-v2-request-no-authorizer"),
            "/headers",
            json!("from-client"),
        ),
        (
            fixture!("lambda_function_url_request"),
            "/headers",
            json!("from-client"),
        ),
        (
            fixture!("example-alb-lambda-target-request-headers-only"),
            "/headers",
            json!("from-client"),
        ),
        (
            fixture!("example-vpc-lattice-v2-request"),
            "/headers",
            json!(["from-client"]),
        ),
        (
            fixture!("example-vpc-lattice-v1-request"),
            "/headers",
            json!("from-client"),
        ),
    ];
    for (body, headers, value) in cases {
        let body = with_header(body, headers, "x-correlation-id", value);
        assert_eq!(found(&body), some("from-client", Preset::CorrelationHeader));
    }
}

#[test]
fn the_x_correlation_id_header_name_is_case_insensitive() {
    let body = with_header(
        fixture!("example-apigw-request"),
        "/headers",
        "X-Correlation-ID",
        json!("from-client"),
    );
    assert_eq!(found(&body), some("from-client", Preset::CorrelationHeader));
}

#[test]
fn an_x_correlation_id_in_multi_value_headers_overrides_the_preset() {
    let body = with_header(
        fixture!("example-alb-lambda-target-request-multivalue-headers"),
        "/multiValueHeaders",
        "x-correlation-id",
        json!(["first", "second"]),
    );
    assert_eq!(found(&body), some("first", Preset::CorrelationHeader));
    let body = with_header(
        fixture!("example-apigw-request"),
        "/multiValueHeaders",
        "X-Correlation-Id",
        json!(["first"]),
    );
    assert_eq!(found(&body), some("first", Preset::CorrelationHeader));
}

#[test]
fn an_empty_x_correlation_id_header_is_ignored() {
    let body = with_header(
        fixture!("example-apigw-request"),
        "/headers",
        "x-correlation-id",
        json!(""),
    );
    assert_eq!(
        found(&body),
        some(
            "deef4878-7910-11e6-8f14-25afc3e9ae33",
            Preset::ApiGatewayRest
        )
    );
}

#[test]
fn an_x_correlation_id_header_does_not_override_non_http_events() {
    let body = with_header(
        fixture!("example-appsync-direct-resolver"),
        "/request/headers",
        "x-correlation-id",
        json!("from-client"),
    );
    assert_eq!(
        found(&body),
        some(
            "Root=1-68713e21-7a03739120ad60703e794b22",
            Preset::AppSyncResolver
        )
    );
}

// --- Escapes and allocation ---

#[test]
fn an_id_with_json_escapes_is_decoded() {
    let body = String::from_utf8(fixture!("example-sqs-event").to_vec())
        .expect("fixture is utf-8")
        .replace(r#""MessageID_1""#, r#""Message\u0049D_1\/\u00e9""#);
    let body = Bytes::from(body);
    let found = extract(&body).expect("sqs event is correlated");
    assert_eq!(found.as_str(), "MessageID_1/é");
    assert!(!points_inside(&body, found.id()));
}

#[test]
fn an_escaped_header_name_is_still_recognised() {
    let body = Bytes::from_static(
        br#"{"requestContext":{"elb":{}},"headers":{"x-amzn-trace-\u0069d":"Root=1-abc"}}"#,
    );
    let found = extract(&body).expect("alb event is correlated");
    assert_eq!(
        (found.as_str(), found.source()),
        ("Root=1-abc", Preset::Alb)
    );
}

fn points_inside(outer: &Bytes, inner: &Bytes) -> bool {
    let outer = outer.as_ptr_range();
    let inner = inner.as_ptr_range();
    outer.start <= inner.start && inner.end <= outer.end
}

#[test]
fn an_http_api_request_id_without_escapes_is_a_slice_of_the_payload() {
    let body = Bytes::from_static(fixture!("example-apigw-v2-request-no-authorizer"));
    let found = extract(&body).expect("http api request is correlated");
    assert_eq!(found.as_str(), "LV7fzho-PHcEJPw=");
    assert!(points_inside(&body, found.id()));
}

#[test]
fn every_preset_id_without_escapes_is_a_slice_of_the_payload() {
    let bodies: [&'static [u8]; 4] = [
        fixture!("example-apigw-request"),
        fixture!("example-alb-lambda-target-request-multivalue-headers"),
        fixture!("example-sns-event"),
        fixture!("example-s3-event"),
    ];
    for body in bodies {
        let body = Bytes::from_static(body);
        let found = extract(&body).expect("event is correlated");
        assert!(
            points_inside(&body, found.id()),
            "{:?} was copied",
            found.source()
        );
    }
}

// --- Events without a correlation id ---

#[test]
fn a_payload_that_is_not_json_is_not_correlated() {
    for body in [
        &b""[..],
        b"   ",
        b"not json",
        b"{\"id\":",
        b"\xff\xfe",
        b"{\"Records\":[}",
    ] {
        assert_eq!(found(body), None, "{body:?}");
    }
}

#[test]
fn a_json_value_that_is_not_an_object_is_not_correlated() {
    for body in [&b"[]"[..], b"null", b"42", b"\"id\"", b"true"] {
        assert_eq!(found(body), None, "{body:?}");
    }
    // An AppSync batch resolver receives an array of resolver events.
    let batch = format!(
        "[{}]",
        String::from_utf8_lossy(fixture!("example-appsync-direct-resolver"))
    );
    assert_eq!(found(batch.as_bytes()), None);
    // An array is never read positionally into the probe's fields.
    assert_eq!(found(br#"["2.0", null, "/", "GET"]"#), None);
}

#[test]
fn events_without_a_preset_are_not_correlated() {
    let bodies: [&[u8]; 6] = [
        fixture!("example-cloudformation-custom-resource-create-request"),
        fixture!("example-cloudwatch_logs-event"),
        fixture!("example-appsync-invoke"),
        fixture!("example-appsync-batchinvoke"),
        fixture!("example-apigw-custom-auth-request"),
        b"{}",
    ];
    for body in bodies {
        assert_eq!(found(body), None, "{}", String::from_utf8_lossy(body));
    }
}

#[test]
fn unexpected_value_types_read_as_absent_instead_of_failing() {
    // `id` is a number and `source` an object: not EventBridge, but still an SQS batch.
    let body = br#"{"id":7,"detail-type":"x","source":{"a":[1,2]},"requestContext":"nope",
            "headers":[1],"Records":[{"eventSource":"aws:sqs","messageId":"m-1","Sns":3}]}"#;
    assert_eq!(found(body), some("m-1", Preset::Sqs));
    let body = br#"{"Records":[{"eventSource":"aws:sqs","messageId":null}]}"#;
    assert_eq!(found(body), None);
    let body = br#"{"Records":["aws:sqs",{"eventSource":"aws:sqs","messageId":"m-2"}]}"#;
    assert_eq!(found(body), None);
    let body = br#"{"Records":{"eventSource":"aws:sqs","messageId":"m-2"}}"#;
    assert_eq!(found(body), None);
}

#[test]
fn an_unknown_event_source_in_records_is_not_correlated() {
    let body = edited(fixture!("example-sqs-event"), |event| {
        event["Records"][0]["eventSource"] = json!("aws:kafka");
    });
    assert_eq!(found(&body), None);
}

#[test]
fn a_function_url_is_recognised_by_its_domain_only() {
    assert!(is_function_url("abc.lambda-url.eu-west-2.on.aws"));
    assert!(!is_function_url(".lambda-url.eu-west-2.on.aws"));
    assert!(!is_function_url("abc.lambda-url..on.aws"));
    assert!(!is_function_url("abc.lambda-url.on.aws"));
    assert!(!is_function_url("abc.execute-api.eu-west-2.amazonaws.com"));
    assert!(!is_function_url(""));
}

#[test]
fn found_and_source_read_well_in_logs() {
    let body = Bytes::from_static(fixture!("example-kinesis-event"));
    let found = extract(&body).expect("kinesis batch is correlated");
    assert_eq!(found.source().to_string(), "kinesis");
    assert_eq!(Preset::CorrelationHeader.as_str(), "correlation_header");
    assert_eq!(found.clone().into_id(), found.id().clone());
}

// --- Pointer ---

#[test]
fn a_pointer_reads_a_string_or_a_number() -> Result<(), InvalidPointer> {
    let body = br#"{"detail":{"orderId":"o-42","count":1042,"price":12.5,"big":1e3,"neg":-7,
            "list":["a",{"b":"in-array"}],"a/b":"slash","m~n":"tilde","":"empty-key"}}"#;
    let read = |pointer: &str| Pointer::new(pointer).map(|pointer| pointer.extract(body));
    assert_eq!(read("/detail/orderId")?.as_deref(), Some("o-42"));
    assert_eq!(read("/detail/count")?.as_deref(), Some("1042"));
    assert_eq!(read("/detail/price")?.as_deref(), Some("12.5"));
    assert_eq!(read("/detail/big")?.as_deref(), Some("1000.0"));
    assert_eq!(read("/detail/neg")?.as_deref(), Some("-7"));
    assert_eq!(read("/detail/list/0")?.as_deref(), Some("a"));
    assert_eq!(read("/detail/list/1/b")?.as_deref(), Some("in-array"));
    assert_eq!(read("/detail/a~1b")?.as_deref(), Some("slash"));
    assert_eq!(read("/detail/m~0n")?.as_deref(), Some("tilde"));
    assert_eq!(read("/detail/")?.as_deref(), Some("empty-key"));
    Ok(())
}

#[test]
fn a_pointer_to_a_missing_path_or_another_kind_of_value_reads_nothing() -> Result<(), InvalidPointer>
{
    let body = br#"{"detail":{"orderId":"","flag":true,"none":null,"obj":{},"list":[1,2]}}"#;
    for pointer in [
        "/detail/missing",
        "/missing/orderId",
        "/detail/orderId/deeper",
        "/detail/orderId",
        "/detail/flag",
        "/detail/none",
        "/detail/obj",
        "/detail/list",
        "/detail/list/2",
        "/detail/list/-",
        "/detail/list/01",
        "/detail/list/+1",
        "",
    ] {
        assert_eq!(Pointer::new(pointer)?.extract(body), None, "{pointer}");
    }
    assert_eq!(Pointer::new("/id")?.extract(b"not json"), None);
    assert_eq!(
        Pointer::new("/id")?.extract(br#"{"id":"x"} trailing"#),
        None
    );
    Ok(())
}

#[test]
fn the_empty_pointer_reads_the_whole_document() -> Result<(), InvalidPointer> {
    assert_eq!(
        Pointer::new("")?.extract(br#""whole""#).as_deref(),
        Some("whole")
    );
    assert_eq!(Pointer::new("")?.extract(b"17").as_deref(), Some("17"));
    Ok(())
}

#[test]
fn an_invalid_pointer_is_rejected_when_built_with_a_clear_message() {
    assert_eq!(
        Pointer::new("detail/orderId"),
        Err(InvalidPointer::MissingLeadingSlash {
            pointer: "detail/orderId".into()
        })
    );
    assert_eq!(
        Pointer::new("detail/orderId").map_err(|error| error.to_string()),
        Err(
            "invalid correlation id pointer `detail/orderId`: a json pointer must be empty \
             or start with `/`, as in `/detail/orderId`"
                .into()
        )
    );
    assert_eq!(
        Pointer::new("/a~2b"),
        Err(InvalidPointer::InvalidEscape {
            pointer: "/a~2b".into(),
            offset: 2
        })
    );
    assert_eq!(
        Pointer::new("/a/b~").map_err(|error| error.to_string()),
        Err(
            "invalid correlation id pointer `/a/b~`: `~` at byte 4 must be followed by `0` \
             (for `~`) or `1` (for `/`)"
                .into()
        )
    );
    assert!("/ok".parse::<Pointer>().is_ok());
    assert_eq!(
        Pointer::new("/a~1b").map(|pointer| pointer.to_string()),
        Ok("/a~1b".into())
    );
}

#[test]
fn a_pointer_reads_what_serde_json_value_pointer_reads() -> Result<(), InvalidPointer> {
    let bodies: [&[u8]; 4] = [
        fixture!("example-eventbridge-event-obj"),
        fixture!("example-dynamodb-event"),
        fixture!("example-apigw-request"),
        br#"{"a":{"b":1},"a":{"c":"last"},"n":[0.1,1e300,-0.0,18446744073709551615,-9223372036854775808]}"#,
    ];
    let pointers = [
        "/id",
        "/detail/instance-id",
        "/resources/0",
        "/Records/1/dynamodb/SizeBytes",
        "/Records/0/dynamodb/NewImage/asdf2/BS/1",
        "/Records/1/eventID",
        "/requestContext/requestTimeEpoch",
        "/requestContext/authorizer/clientId",
        "/headers/Accept",
        "/multiValueHeaders/Accept/0",
        "/a/b",
        "/a/c",
        "/n/0",
        "/n/1",
        "/n/2",
        "/n/3",
        "/n/4",
    ];
    for body in bodies {
        let value: Value = serde_json::from_slice(body).expect("json");
        for text in pointers {
            let expected = match value.pointer(text) {
                Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
                Some(Value::Number(number)) => Some(number.to_string()),
                _ => None,
            };
            assert_eq!(Pointer::new(text)?.extract(body), expected, "{text}");
        }
    }
    Ok(())
}

#[test]
fn an_overlong_or_unprintable_correlation_header_is_ignored() {
    let base: serde_json::Value =
        serde_json::from_slice(fixture!("example-apigw-v2-request-no-authorizer")).unwrap();
    for bad in [
        "x".repeat(MAX_HEADER_ID_LEN + 1),
        "two words".to_owned(),
        "line\nbreak".to_owned(),
    ] {
        let mut event = base.clone();
        event["headers"]["x-correlation-id"] = serde_json::Value::String(bad);
        let body = Bytes::from(serde_json::to_vec(&event).unwrap());
        let found = extract(&body).unwrap();
        assert_eq!(found.source(), Preset::ApiGatewayHttp);
    }
}
