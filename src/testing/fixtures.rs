//! Events of every source helve handles, shaped as AWS sends them, with a few fields changed:
//! `fixtures::sqs().body(json!({"job": 7})).message_id("m-1")`.
//!
//! Each builder starts from one realistic event (one record for a batch source), and its
//! setters change the current record; [`Sqs::record`] (and the same on the other batch
//! sources) adds another and makes it current. A fixture is an event for
//! [`TestFunction::invoke`](super::TestFunction::invoke) as it is, or a `serde_json::Value`
//! ([`into_value`](Sqs::into_value)), or the event type ([`to`](Sqs::to)).
//!
//! ```
//! use helve::testing::fixtures;
//! use serde_json::json;
//!
//! let batch = fixtures::sqs()
//!     .message_id("m-1")
//!     .body(json!({"job": 1}))
//!     .record()
//!     .message_id("m-2")
//!     .body(json!({"job": 2}))
//!     .into_value();
//! assert_eq!(batch["Records"][1]["messageId"], "m-2");
//! assert_eq!(batch["Records"][1]["body"], r#"{"job":2}"#);
//!
//! let request = fixtures::api_gateway_http()
//!     .method("POST")
//!     .path("/orders")
//!     .header("content-type", "application/json")
//!     .json_body(json!({"sku": "BOOK-42"}))
//!     .into_value();
//! assert_eq!(request["requestContext"]["http"]["method"], "POST");
//! ```

use base64::Engine as _;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};

use super::event::IntoEvent;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

/// The JSON text of `value`: an SQS body, an SNS message.
fn text_of(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(text)) => text,
        Ok(value) => value.to_string(),
        Err(error) => format!("<not JSON: {error}>"),
    }
}

fn value_of(value: impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Sets the value at `pointer`, adding the last key to its object when it is missing.
fn set_pointer(event: &mut Value, pointer: &str, value: Value) {
    if let Some(slot) = event.pointer_mut(pointer) {
        *slot = value;
        return;
    }
    let Some((parent, key)) = pointer.rsplit_once('/') else {
        return;
    };
    let key = key.replace("~1", "/").replace("~0", "~");
    match event.pointer_mut(parent) {
        Some(Value::Object(object)) => {
            object.insert(key, value);
        }
        Some(slot @ Value::Null) => *slot = json!({ key: value }),
        _ => {}
    }
}

macro_rules! fixture_common {
    ($name:ident) => {
        impl $name {
            /// The event as JSON.
            pub fn into_value(self) -> Value {
                self.into_json()
            }

            /// The event as the type a handler takes (`aws_lambda_events::sqs::SqsEvent`, ...).
            ///
            /// # Errors
            ///
            /// When the type does not read this event.
            pub fn to<E: DeserializeOwned>(self) -> Result<E, serde_json::Error> {
                serde_json::from_value(self.into_json())
            }

            /// Sets any field, by its JSON pointer in the whole event (`/Records/0/awsRegion`,
            /// `/pathParameters`), for what the other setters do not cover: the last key is
            /// added when its object has none; a pointer whose parent does not exist is
            /// ignored.
            pub fn set(mut self, pointer: &str, value: impl Serialize) -> Self {
                set_pointer(self.event_mut(), pointer, value_of(value));
                self
            }
        }

        impl From<$name> for Value {
            fn from(fixture: $name) -> Value {
                fixture.into_json()
            }
        }

        impl IntoEvent for $name {
            fn into_event(self) -> Vec<u8> {
                self.into_json().to_string().into_bytes()
            }
        }
    };
}

/// The records of a batch event, the last of them the one being changed.
#[derive(Debug, Clone)]
struct Records {
    event: Value,
    template: Value,
}

impl Records {
    fn new(record: Value) -> Self {
        Self {
            event: json!({ "Records": [record.clone()] }),
            template: record,
        }
    }

    fn count(&self) -> usize {
        self.event["Records"].as_array().map_or(0, Vec::len)
    }

    fn current(&mut self) -> &mut Value {
        let last = self.count().saturating_sub(1);
        &mut self.event["Records"][last]
    }

    fn push(&mut self, record: Value) {
        if let Some(records) = self.event["Records"].as_array_mut() {
            records.push(record);
        }
    }
}

/// An SQS event (standard or FIFO): [`sqs`], [`sqs_fifo`].
#[derive(Debug, Clone)]
#[must_use]
pub struct Sqs {
    records: Records,
    fifo: bool,
}

/// An SQS event from a standard queue, one message: id `m-1`, body `{}`.
pub fn sqs() -> Sqs {
    Sqs {
        records: Records::new(sqs_record("m-1", false, 1)),
        fifo: false,
    }
}

/// An SQS event from a FIFO queue, one message: id `m-1`, group `group-1`, body `{}`.
pub fn sqs_fifo() -> Sqs {
    Sqs {
        records: Records::new(sqs_record("m-1", true, 1)),
        fifo: true,
    }
}

fn sqs_record(message_id: &str, fifo: bool, n: usize) -> Value {
    let queue = if fifo { "orders.fifo" } else { "orders" };
    let mut record = json!({
        "messageId": message_id,
        "receiptHandle": format!("AQEB{message_id}"),
        "body": "{}",
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1795449600000",
            "SenderId": "AROAIWPX5BD2BHG722MW4:sender",
            "ApproximateFirstReceiveTimestamp": "1795449600010"
        },
        "messageAttributes": {},
        "md5OfBody": "99914b932bd37a50b983c5e7c90ae93b",
        "eventSource": "aws:sqs",
        "eventSourceARN": format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}"),
        "awsRegion": REGION
    });
    if fifo {
        record["attributes"]["MessageGroupId"] = json!("group-1");
        record["attributes"]["MessageDeduplicationId"] = json!(format!("dedup-{n}"));
        record["attributes"]["SequenceNumber"] = json!(format!("188494964604676961{n:02}"));
    }
    record
}

impl Sqs {
    fn into_json(self) -> Value {
        self.records.event
    }

    fn event_mut(&mut self) -> &mut Value {
        &mut self.records.event
    }

    /// Adds a message, `m-{n}` with body `{}`, and makes it the one the setters change.
    pub fn record(mut self) -> Self {
        let n = self.records.count() + 1;
        let _ = &self.records.template;
        self.records
            .push(sqs_record(&format!("m-{n}"), self.fifo, n));
        self
    }

    /// The message's body: JSON, written as its text (a string is the body as it is).
    pub fn body(mut self, body: impl Serialize) -> Self {
        self.records.current()["body"] = json!(text_of(&body));
        self
    }

    /// The message id (the `itemIdentifier` of a failure).
    pub fn message_id(mut self, id: &str) -> Self {
        self.records.current()["messageId"] = json!(id);
        self
    }

    /// A message attribute of type `String`.
    pub fn message_attribute(mut self, name: &str, value: &str) -> Self {
        self.records.current()["messageAttributes"][name] = json!({"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String"});
        self
    }

    /// A system attribute (`ApproximateReceiveCount`, `MessageGroupId`, ...).
    pub fn attribute(mut self, name: &str, value: &str) -> Self {
        self.records.current()["attributes"][name] = json!(value);
        self
    }

    /// The FIFO message group.
    pub fn group_id(self, group: &str) -> Self {
        self.attribute("MessageGroupId", group)
    }

    /// How many times the message was received (`ApproximateReceiveCount`).
    pub fn receive_count(self, count: u32) -> Self {
        self.attribute("ApproximateReceiveCount", &count.to_string())
    }
}

fixture_common!(Sqs);

/// A Kinesis Data Streams event: [`kinesis`].
#[derive(Debug, Clone)]
#[must_use]
pub struct Kinesis {
    records: Records,
}

/// A Kinesis event, one record: data `{}`, partition key `key-1`, a sequence number.
pub fn kinesis() -> Kinesis {
    Kinesis {
        records: Records::new(kinesis_record(1)),
    }
}

fn kinesis_sequence_number(n: usize) -> String {
    format!("4959033374561436426493778766720000000000{:016}", n)
}

fn kinesis_record(n: usize) -> Value {
    json!({
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": format!("key-{n}"),
            "sequenceNumber": kinesis_sequence_number(n),
            "data": base64::engine::general_purpose::STANDARD.encode("{}"),
            "approximateArrivalTimestamp": 1_795_449_600.123
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("shardId-000000000000:{}", kinesis_sequence_number(n)),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": format!("arn:aws:iam::{ACCOUNT}:role/lambda-role"),
        "awsRegion": REGION,
        "eventSourceARN": format!("arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/orders")
    })
}

impl Kinesis {
    fn into_json(self) -> Value {
        self.records.event
    }

    fn event_mut(&mut self) -> &mut Value {
        &mut self.records.event
    }

    /// Adds a record (data `{}`, the next sequence number) and makes it current.
    pub fn record(mut self) -> Self {
        let n = self.records.count() + 1;
        self.records.push(kinesis_record(n));
        self
    }

    /// The record's data: JSON, written as its text and base64-encoded as Kinesis sends it.
    pub fn data(self, data: impl Serialize) -> Self {
        let text = text_of(&data);
        self.data_bytes(text.as_bytes())
    }

    /// The record's data, any bytes.
    pub fn data_bytes(mut self, data: &[u8]) -> Self {
        self.records.current()["kinesis"]["data"] =
            json!(base64::engine::general_purpose::STANDARD.encode(data));
        self
    }

    /// The sequence number (the `itemIdentifier` of a failure).
    pub fn sequence_number(mut self, sequence_number: &str) -> Self {
        self.records.current()["kinesis"]["sequenceNumber"] = json!(sequence_number);
        self
    }

    /// The partition key.
    pub fn partition_key(mut self, key: &str) -> Self {
        self.records.current()["kinesis"]["partitionKey"] = json!(key);
        self
    }
}

fixture_common!(Kinesis);

/// A DynamoDB Streams event: [`dynamodb`].
#[derive(Debug, Clone)]
#[must_use]
pub struct DynamoDb {
    records: Records,
}

/// A DynamoDB Streams event, one `INSERT` record of the item `{"id": {"S": "item-1"}}`.
pub fn dynamodb() -> DynamoDb {
    DynamoDb {
        records: Records::new(dynamodb_record(1)),
    }
}

fn dynamodb_record(n: usize) -> Value {
    json!({
        "eventID": format!("event-{n}"),
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": {
            "ApproximateCreationDateTime": 1_795_449_600,
            "Keys": {"id": {"S": format!("item-{n}")}},
            "NewImage": {"id": {"S": format!("item-{n}")}},
            "SequenceNumber": format!("{}", 111 * n),
            "SizeBytes": 26,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        },
        "eventSourceARN": format!(
            "arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders/stream/2026-11-23T00:00:00.000"
        )
    })
}

impl DynamoDb {
    fn into_json(self) -> Value {
        self.records.event
    }

    fn event_mut(&mut self) -> &mut Value {
        &mut self.records.event
    }

    /// Adds an `INSERT` record and makes it current.
    pub fn record(mut self) -> Self {
        let n = self.records.count() + 1;
        self.records.push(dynamodb_record(n));
        self
    }

    /// `INSERT`, `MODIFY` or `REMOVE`.
    pub fn event_name(mut self, name: &str) -> Self {
        self.records.current()["eventName"] = json!(name);
        self
    }

    /// The keys, as DynamoDB attribute values: `json!({"id": {"S": "o-1"}})`.
    pub fn keys(mut self, keys: Value) -> Self {
        self.records.current()["dynamodb"]["Keys"] = keys;
        self
    }

    /// The new image, as DynamoDB attribute values.
    pub fn new_image(mut self, image: Value) -> Self {
        self.records.current()["dynamodb"]["NewImage"] = image;
        self
    }

    /// The old image, as DynamoDB attribute values.
    pub fn old_image(mut self, image: Value) -> Self {
        self.records.current()["dynamodb"]["OldImage"] = image;
        self
    }

    /// The sequence number (the `itemIdentifier` of a failure).
    pub fn sequence_number(mut self, sequence_number: &str) -> Self {
        self.records.current()["dynamodb"]["SequenceNumber"] = json!(sequence_number);
        self
    }
}

fixture_common!(DynamoDb);

/// Which HTTP source a request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HttpSource {
    Rest,
    HttpApi,
    Alb,
    FunctionUrl,
}

/// An HTTP request: [`api_gateway_rest`], [`api_gateway_http`], [`alb`], [`function_url`].
#[derive(Debug, Clone)]
#[must_use]
pub struct Http {
    source: HttpSource,
    event: Value,
}

/// A request to an API Gateway REST API (payload 1.0): `GET /`, request id `req-1`.
pub fn api_gateway_rest() -> Http {
    Http {
        source: HttpSource::Rest,
        event: json!({
            "resource": "/{proxy+}",
            "path": "/",
            "httpMethod": "GET",
            "headers": {"Host": "abc123.execute-api.us-east-1.amazonaws.com"},
            "multiValueHeaders": {"Host": ["abc123.execute-api.us-east-1.amazonaws.com"]},
            "queryStringParameters": null,
            "multiValueQueryStringParameters": null,
            "pathParameters": null,
            "stageVariables": null,
            "requestContext": {
                "accountId": ACCOUNT,
                "apiId": "abc123",
                "resourceId": "a1b2c3",
                "resourcePath": "/{proxy+}",
                "httpMethod": "GET",
                "path": "/prod/",
                "protocol": "HTTP/1.1",
                "requestId": "req-1",
                "extendedRequestId": "req-1-extended",
                "requestTime": "23/Nov/2026:14:05:09 +0000",
                "requestTimeEpoch": 1_795_449_909_000u64,
                "stage": "prod",
                "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
                "identity": {"sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"}
            },
            "body": null,
            "isBase64Encoded": false
        }),
    }
}

fn payload_v2(domain: &str, api_id: &str) -> Value {
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": {"host": domain},
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": api_id,
            "http": {
                "method": "GET",
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5.0"
            },
            "requestId": "req-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "23/Nov/2026:14:05:09 +0000",
            "timeEpoch": 1_795_449_909_000u64
        },
        "isBase64Encoded": false
    })
}

/// A request to an API Gateway HTTP API (payload 2.0): `GET /`, request id `req-1`.
pub fn api_gateway_http() -> Http {
    Http {
        source: HttpSource::HttpApi,
        event: payload_v2("abc123.execute-api.us-east-1.amazonaws.com", "abc123"),
    }
}

/// A request to a Lambda Function URL: `GET /`, request id `req-1`.
pub fn function_url() -> Http {
    Http {
        source: HttpSource::FunctionUrl,
        event: payload_v2("abc123.lambda-url.us-east-1.on.aws", "abc123"),
    }
}

/// A request from an Application Load Balancer target group: `GET /`.
pub fn alb() -> Http {
    Http {
        source: HttpSource::Alb,
        event: json!({
            "requestContext": {"elb": {"targetGroupArn": format!(
                "arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/lambda-target/abcdefg"
            )}},
            "httpMethod": "GET",
            "path": "/",
            "queryStringParameters": {},
            "headers": {"host": "lambda-alb-123.us-east-1.elb.amazonaws.com"},
            "body": "",
            "isBase64Encoded": false
        }),
    }
}

impl Http {
    fn into_json(self) -> Value {
        self.event
    }

    fn event_mut(&mut self) -> &mut Value {
        &mut self.event
    }

    fn v2(&self) -> bool {
        matches!(self.source, HttpSource::HttpApi | HttpSource::FunctionUrl)
    }

    /// The method: `POST`, `DELETE`, ...
    pub fn method(mut self, method: &str) -> Self {
        if self.v2() {
            self.event["requestContext"]["http"]["method"] = json!(method);
        } else {
            self.event["httpMethod"] = json!(method);
            if self.source == HttpSource::Rest {
                self.event["requestContext"]["httpMethod"] = json!(method);
            }
        }
        self
    }

    /// The path, without the query: `/orders/o-1`. A REST API's request is to its stage
    /// `prod` on the default endpoint, so `lambda_http` gives the handler `/prod/orders/o-1`
    /// (unless `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set), as on AWS.
    pub fn path(mut self, path: &str) -> Self {
        if self.v2() {
            self.event["rawPath"] = json!(path);
            self.event["requestContext"]["http"]["path"] = json!(path);
        } else {
            self.event["path"] = json!(path);
            if self.source == HttpSource::Rest {
                self.event["requestContext"]["path"] = json!(format!("/prod{path}"));
            }
        }
        self
    }

    /// A header (its name in lower case for the sources that send it so).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match self.source {
            HttpSource::Rest => {
                self.event["headers"][name] = json!(value);
                self.event["multiValueHeaders"][name] = json!([value]);
            }
            _ => self.event["headers"][name.to_ascii_lowercase()] = json!(value),
        }
        self
    }

    /// A query string parameter (given unencoded; it must not need percent-encoding).
    pub fn query(mut self, name: &str, value: &str) -> Self {
        if self.v2() {
            let raw = self.event["rawQueryString"].as_str().unwrap_or_default();
            let raw = if raw.is_empty() {
                format!("{name}={value}")
            } else {
                format!("{raw}&{name}={value}")
            };
            self.event["rawQueryString"] = json!(raw);
            let params = &mut self.event["queryStringParameters"];
            if !params.is_object() {
                *params = json!({});
            }
            params[name] = json!(value);
        } else {
            if !self.event["queryStringParameters"].is_object() {
                self.event["queryStringParameters"] = json!({});
            }
            self.event["queryStringParameters"][name] = json!(value);
            if self.source == HttpSource::Rest {
                let multi = &mut self.event["multiValueQueryStringParameters"];
                if !multi.is_object() {
                    *multi = json!({});
                }
                multi[name] = json!([value]);
            }
        }
        self
    }

    /// A path parameter of the route API Gateway matched (`id` of `/orders/{id}`), which
    /// `Path<T>` reads; set the path to match with [`path`](Self::path). An ALB and a Function
    /// URL match no routes: their requests have none.
    pub fn path_parameter(mut self, name: &str, value: &str) -> Self {
        let params = &mut self.event["pathParameters"];
        if !params.is_object() {
            *params = json!({});
        }
        params[name] = json!(value);
        self
    }

    /// The body, as text.
    pub fn body(mut self, body: &str) -> Self {
        self.event["body"] = json!(body);
        self.event["isBase64Encoded"] = json!(false);
        self
    }

    /// The body, as JSON, with `content-type: application/json`.
    pub fn json_body(self, body: impl Serialize) -> Self {
        let text = text_of(&body);
        self.header("content-type", "application/json").body(&text)
    }

    /// The body, as bytes: base64-encoded, `isBase64Encoded: true`.
    pub fn binary_body(mut self, body: &[u8]) -> Self {
        self.event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
        self.event["isBase64Encoded"] = json!(true);
        self
    }

    /// The request id of API Gateway and Function URLs (`requestContext.requestId`: the
    /// correlation id helve finds); an ALB has none and ignores it.
    pub fn request_id(mut self, id: &str) -> Self {
        if self.source != HttpSource::Alb {
            self.event["requestContext"]["requestId"] = json!(id);
        }
        self
    }
}

fixture_common!(Http);

/// A CloudFormation custom resource request: [`custom_resource_create`],
/// [`custom_resource_update`], [`custom_resource_delete`].
#[derive(Debug, Clone)]
#[must_use]
pub struct CustomResource {
    event: Value,
}

fn custom_resource(request_type: &str) -> CustomResource {
    CustomResource {
        event: json!({
            "RequestType": request_type,
            "ServiceToken": format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}", super::FUNCTION_NAME),
            "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/app/1/req-1?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0123abcd",
            "StackId": format!("arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/app/16580499-7622-4a9c-b32f-4eba35da93da"),
            "RequestId": "req-1",
            "LogicalResourceId": "Resource",
            "ResourceType": "Custom::Resource",
            "ResourceProperties": {"ServiceToken": format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{}", super::FUNCTION_NAME)}
        }),
    }
}

/// A `Create` request with no properties but the service token.
pub fn custom_resource_create() -> CustomResource {
    custom_resource("Create")
}

/// An `Update` request of the resource `resource-1`, its old properties the same as the new.
pub fn custom_resource_update() -> CustomResource {
    let mut request = custom_resource("Update");
    request.event["PhysicalResourceId"] = json!("resource-1");
    request.event["OldResourceProperties"] = request.event["ResourceProperties"].clone();
    request
}

/// A `Delete` request of the resource `resource-1`.
pub fn custom_resource_delete() -> CustomResource {
    let mut request = custom_resource("Delete");
    request.event["PhysicalResourceId"] = json!("resource-1");
    request
}

impl CustomResource {
    fn into_json(self) -> Value {
        self.event
    }

    fn event_mut(&mut self) -> &mut Value {
        &mut self.event
    }

    fn merge(target: &mut Value, properties: Value) {
        if let (Some(target), Value::Object(properties)) = (target.as_object_mut(), properties) {
            target.extend(properties);
        }
    }

    /// The resource's properties, beside `ServiceToken` (CloudFormation sends every value as
    /// a string).
    pub fn properties(mut self, properties: impl Serialize) -> Self {
        Self::merge(&mut self.event["ResourceProperties"], value_of(properties));
        self
    }

    /// The properties before an update, beside `ServiceToken`.
    pub fn old_properties(mut self, properties: impl Serialize) -> Self {
        let token = self.event["ResourceProperties"]["ServiceToken"].clone();
        self.event["OldResourceProperties"] = json!({ "ServiceToken": token });
        Self::merge(
            &mut self.event["OldResourceProperties"],
            value_of(properties),
        );
        self
    }

    /// The physical id of the resource being updated or deleted.
    pub fn physical_resource_id(mut self, id: &str) -> Self {
        self.event["PhysicalResourceId"] = json!(id);
        self
    }

    /// The request id (the correlation id helve finds).
    pub fn request_id(mut self, id: &str) -> Self {
        self.event["RequestId"] = json!(id);
        self
    }

    /// `Custom::Something`.
    pub fn resource_type(mut self, resource_type: &str) -> Self {
        self.event["ResourceType"] = json!(resource_type);
        self
    }

    /// The logical id in the template.
    pub fn logical_resource_id(mut self, id: &str) -> Self {
        self.event["LogicalResourceId"] = json!(id);
        self
    }

    /// Where the answer goes. A [`TestFunction`](super::TestFunction) replaces it with its
    /// own recorder's; set it for a binary run against a [`ResponseUrl`](super::ResponseUrl).
    pub fn response_url(mut self, url: &str) -> Self {
        self.event["ResponseURL"] = json!(url);
        self
    }
}

fixture_common!(CustomResource);

/// An EventBridge event: [`schedule`], [`eventbridge`].
#[derive(Debug, Clone)]
#[must_use]
pub struct EventBridge {
    event: Value,
}

/// An EventBridge Scheduler / scheduled rule event at `2026-11-23T06:00:00Z`, `detail: {}`.
pub fn schedule() -> EventBridge {
    EventBridge {
        event: json!({
            "version": "0",
            "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT,
            "time": "2026-11-23T06:00:00Z",
            "region": REGION,
            "resources": [format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/daily")],
            "detail": {}
        }),
    }
}

/// Any EventBridge event, of this source and detail type, with `detail: {}`.
pub fn eventbridge(source: &str, detail_type: &str) -> EventBridge {
    let mut event = schedule();
    event.event["source"] = json!(source);
    event.event["detail-type"] = json!(detail_type);
    event.event["resources"] = json!([]);
    event
}

impl EventBridge {
    fn into_json(self) -> Value {
        self.event
    }

    fn event_mut(&mut self) -> &mut Value {
        &mut self.event
    }

    /// `time`: when the schedule fired, RFC 3339.
    pub fn time(mut self, time: &str) -> Self {
        self.event["time"] = json!(time);
        self
    }

    /// `detail`.
    pub fn detail(mut self, detail: impl Serialize) -> Self {
        self.event["detail"] = value_of(detail);
        self
    }

    /// The event id (the correlation id helve finds).
    pub fn id(mut self, id: &str) -> Self {
        self.event["id"] = json!(id);
        self
    }

    /// `resources`: the rule or schedule's ARN.
    pub fn resources<R: Into<String>>(mut self, resources: impl IntoIterator<Item = R>) -> Self {
        let resources: Vec<String> = resources.into_iter().map(Into::into).collect();
        self.event["resources"] = json!(resources);
        self
    }
}

fixture_common!(EventBridge);

/// How an S3 notification arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum S3Envelope {
    Direct,
    Sqs,
    Sns,
    SnsSqs,
}

/// An S3 object notification, straight from S3 or in an envelope: [`s3`], then
/// [`via_sqs`](S3::via_sqs), [`via_sns`](S3::via_sns), [`via_sns_sqs`](S3::via_sns_sqs);
/// EventBridge's shape is [`s3_eventbridge`].
#[derive(Debug, Clone)]
#[must_use]
pub struct S3 {
    records: Records,
    envelope: S3Envelope,
}

/// An S3 `ObjectCreated:Put` notification of `incoming/data.csv` (1,024 bytes) in `uploads`.
pub fn s3() -> S3 {
    S3 {
        records: Records::new(s3_record("uploads", "incoming/data.csv", 1024)),
        envelope: S3Envelope::Direct,
    }
}

/// S3's form-URL encoding of a key in a notification: a space as `+`, the rest
/// percent-encoded but for `/` and the unreserved characters.
fn encode_key(key: &str) -> String {
    let mut encoded = String::with_capacity(key.len());
    for byte in key.bytes() {
        match byte {
            b' ' => encoded.push('+'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                encoded.push(char::from(byte));
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

fn s3_record(bucket: &str, key: &str, size: u64) -> Value {
    json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": "2026-11-23T14:05:09.123Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AROAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "203.0.113.7"},
        "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "uploads",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": format!("arn:aws:s3:::{bucket}")
            },
            "object": {
                "key": encode_key(key),
                "size": size,
                "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                "sequencer": "0055AED6DCD90281E5"
            }
        }
    })
}

impl S3 {
    fn into_json(self) -> Value {
        let notification = self.records.event;
        let sns = |message: &Value, n: usize| {
            json!({
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": format!("arn:aws:sns:{REGION}:{ACCOUNT}:uploads:sub-{n}"),
                "Sns": {
                    "Type": "Notification",
                    "MessageId": format!("sns-{n}"),
                    "TopicArn": format!("arn:aws:sns:{REGION}:{ACCOUNT}:uploads"),
                    "Subject": "Amazon S3 Notification",
                    "Message": message.to_string(),
                    "Timestamp": "2026-11-23T14:05:09.200Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/cert.pem",
                    "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/unsubscribe",
                    "MessageAttributes": {}
                }
            })
        };
        let sqs = |body: String, n: usize| {
            let mut record = sqs_record(&format!("m-{n}"), false, n);
            record["body"] = json!(body);
            record
        };
        match self.envelope {
            S3Envelope::Direct => notification,
            S3Envelope::Sqs => json!({ "Records": [sqs(notification.to_string(), 1)] }),
            S3Envelope::Sns => json!({ "Records": [sns(&notification, 1)] }),
            S3Envelope::SnsSqs => {
                let envelope = sns(&notification, 1)["Sns"].clone();
                json!({ "Records": [sqs(envelope.to_string(), 1)] })
            }
        }
    }

    fn event_mut(&mut self) -> &mut Value {
        &mut self.records.event
    }

    /// Adds a notification record of `incoming/data-{n}.csv` and makes it current.
    pub fn record(mut self) -> Self {
        let n = self.records.count() + 1;
        self.records.push(s3_record(
            "uploads",
            &format!("incoming/data-{n}.csv"),
            1024,
        ));
        self
    }

    /// The bucket.
    pub fn bucket(mut self, bucket: &str) -> Self {
        let record = self.records.current();
        record["s3"]["bucket"]["name"] = json!(bucket);
        record["s3"]["bucket"]["arn"] = json!(format!("arn:aws:s3:::{bucket}"));
        self
    }

    /// The object's key, as it is (it is encoded as S3 encodes keys in notifications).
    pub fn key(mut self, key: &str) -> Self {
        self.records.current()["s3"]["object"]["key"] = json!(encode_key(key));
        self
    }

    /// The object's size in bytes.
    pub fn size(mut self, size: u64) -> Self {
        self.records.current()["s3"]["object"]["size"] = json!(size);
        self
    }

    /// `ObjectCreated:Put`, `ObjectCreated:CompleteMultipartUpload`, `ObjectRemoved:Delete`...
    pub fn event_name(mut self, name: &str) -> Self {
        self.records.current()["eventName"] = json!(name);
        self
    }

    /// The notification in the body of one SQS message (S3 → SQS).
    pub fn via_sqs(mut self) -> Self {
        self.envelope = S3Envelope::Sqs;
        self
    }

    /// The notification in the message of one SNS record (S3 → SNS → Lambda).
    pub fn via_sns(mut self) -> Self {
        self.envelope = S3Envelope::Sns;
        self
    }

    /// The notification in an SNS envelope in the body of one SQS message (S3 → SNS → SQS).
    pub fn via_sns_sqs(mut self) -> Self {
        self.envelope = S3Envelope::SnsSqs;
        self
    }
}

fixture_common!(S3);

/// An S3 `Object Created` event as EventBridge delivers it, of `incoming/data.csv` in
/// `uploads`; change it with [`EventBridge::set`] (`/detail/object/key`, ...).
pub fn s3_eventbridge() -> EventBridge {
    eventbridge("aws.s3", "Object Created")
        .resources(["arn:aws:s3:::uploads"])
        .detail(json!({
            "version": "0",
            "bucket": {"name": "uploads"},
            "object": {
                "key": "incoming/data.csv",
                "size": 1024,
                "etag": "d41d8cd98f00b204e9800998ecf8427e",
                "sequencer": "0055AED6DCD90281E5"
            },
            "request-id": "C3D13FE58DE4C810",
            "requester": ACCOUNT,
            "source-ip-address": "203.0.113.7",
            "reason": "PutObject"
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_fixture_changes_its_last_record() {
        let event = sqs()
            .body(json!({"n": 1}))
            .record()
            .message_id("second")
            .into_value();
        assert_eq!(event["Records"][0]["messageId"], "m-1");
        assert_eq!(event["Records"][0]["body"], r#"{"n":1}"#);
        assert_eq!(event["Records"][1]["messageId"], "second");
        assert_eq!(event["Records"][1]["body"], "{}");
    }

    #[test]
    fn a_kinesis_record_carries_its_data_in_base64() {
        let event = kinesis().data(json!({"n": 1})).into_value();
        assert_eq!(event["Records"][0]["kinesis"]["data"], "eyJuIjoxfQ==");
    }

    #[test]
    fn an_s3_key_is_encoded_as_s3_encodes_it() {
        let event = s3().key("in coming/ä.csv").into_value();
        assert_eq!(
            event["Records"][0]["s3"]["object"]["key"],
            "in+coming/%C3%A4.csv"
        );
    }

    #[test]
    fn an_s3_notification_in_sns_in_sqs_is_text_in_text() {
        let event = s3().via_sns_sqs().into_value();
        let body: Value =
            serde_json::from_str(event["Records"][0]["body"].as_str().unwrap()).unwrap();
        let message: Value = serde_json::from_str(body["Message"].as_str().unwrap()).unwrap();
        assert_eq!(message["Records"][0]["s3"]["bucket"]["name"], "uploads");
    }

    #[test]
    fn a_custom_resource_update_keeps_its_old_properties_apart() {
        let event = custom_resource_update()
            .properties(json!({"Size": "2"}))
            .old_properties(json!({"Size": "1"}))
            .into_value();
        assert_eq!(event["ResourceProperties"]["Size"], "2");
        assert_eq!(event["OldResourceProperties"]["Size"], "1");
        assert_eq!(event["PhysicalResourceId"], "resource-1");
    }
}
