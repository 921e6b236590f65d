//! The records a batch handler takes: SQS messages, Kinesis records and DynamoDB stream records,
//! with their payload decoded into your type, or as `aws_lambda_events` has them.

use std::{borrow::Cow, fmt};

use aws_lambda_events::event::{
    dynamodb::EventRecord as DynamoDbEventRecord, kinesis::KinesisEventRecord,
    sqs::SqsMessage as SqsEventMessage,
};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::value::RawValue;

use crate::decode;

/// Where a batch comes from: it decides the item identifier and the order records run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordSource {
    /// An SQS queue: records are identified by message id; a FIFO queue (its ARN ends in
    /// `.fifo`) keeps each message group in order.
    Sqs,
    /// A Kinesis data stream: records are identified by sequence number and run in order.
    Kinesis,
    /// A DynamoDB stream: records are identified by sequence number and run in order.
    DynamoDb,
}

impl RecordSource {
    /// The `eventSource` of the records: `aws:sqs`, `aws:kinesis` or `aws:dynamodb`.
    pub fn event_source(self) -> &'static str {
        match self {
            RecordSource::Sqs => "aws:sqs",
            RecordSource::Kinesis => "aws:kinesis",
            RecordSource::DynamoDb => "aws:dynamodb",
        }
    }

    /// Whether records run one after the other, stopping at the first failure.
    pub fn is_stream(self) -> bool {
        matches!(self, RecordSource::Kinesis | RecordSource::DynamoDb)
    }

    /// The field that identifies a record, as the docs and logs name it.
    pub(crate) fn id_field(self) -> &'static str {
        match self {
            RecordSource::Sqs => "messageId",
            RecordSource::Kinesis => "kinesis.sequenceNumber",
            RecordSource::DynamoDb => "dynamodb.SequenceNumber",
        }
    }
}

impl fmt::Display for RecordSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RecordSource::Sqs => "SQS",
            RecordSource::Kinesis => "Kinesis",
            RecordSource::DynamoDb => "DynamoDB Streams",
        })
    }
}

/// What identifies a record, borrowed from its JSON where it can be.
#[derive(Debug, Default)]
pub(crate) struct Peek<'a> {
    pub(crate) id: Option<Cow<'a, str>>,
    pub(crate) group: Option<Cow<'a, str>>,
    pub(crate) event_source: Option<Cow<'a, str>>,
    pub(crate) event_source_arn: Option<Cow<'a, str>>,
}

impl<'a> Peek<'a> {
    /// Reads what identifies a record of `source`, whatever else is wrong with it, skipping
    /// the rest (the payload is decoded when the record runs).
    pub(crate) fn read(source: RecordSource, raw: &'a RawValue) -> Self {
        #[derive(Deserialize, Default)]
        struct Lenient<'a> {
            #[serde(default, rename = "messageId", borrow)]
            message_id: Option<Cow<'a, str>>,
            #[serde(default, rename = "eventSource", borrow)]
            event_source: Option<Cow<'a, str>>,
            #[serde(default, rename = "eventSourceARN", borrow)]
            event_source_arn: Option<Cow<'a, str>>,
            #[serde(default, borrow)]
            attributes: Option<Attributes<'a>>,
            #[serde(default, borrow)]
            kinesis: Option<SequenceNumber<'a>>,
            #[serde(default, borrow)]
            dynamodb: Option<SequenceNumber<'a>>,
        }
        #[derive(Deserialize, Default)]
        struct Attributes<'a> {
            #[serde(default, rename = "MessageGroupId", borrow)]
            message_group_id: Option<Cow<'a, str>>,
        }
        #[derive(Deserialize, Default)]
        struct SequenceNumber<'a> {
            #[serde(default, alias = "SequenceNumber", rename = "sequenceNumber", borrow)]
            sequence_number: Option<Cow<'a, str>>,
        }
        let lenient: Lenient<'a> = serde_json::from_str(raw.get()).unwrap_or_default();
        let id = match source {
            RecordSource::Sqs => lenient.message_id,
            RecordSource::Kinesis => lenient.kinesis.and_then(|k| k.sequence_number),
            RecordSource::DynamoDb => lenient.dynamodb.and_then(|d| d.sequence_number),
        };
        Peek {
            id: id.filter(|id| !id.is_empty()),
            group: lenient.attributes.and_then(|a| a.message_group_id),
            event_source: lenient.event_source,
            event_source_arn: lenient.event_source_arn,
        }
    }
}

/// A record type a batch handler can take: one of helve's typed records, or the
/// `aws_lambda_events` record of the same source.
pub trait Record: Sized + Send + 'static {
    /// The payload decoded for the handler (`T` of `SqsMessage<T>`), or `()` for a raw record.
    type Payload;

    /// The event source of the batch.
    const SOURCE: RecordSource;

    /// Decodes one record; the error says why, without the rejected data.
    fn decode(raw: &RawValue) -> Result<Self, String>;

    /// The decoded payload, for validation.
    fn payload(&self) -> Option<&Self::Payload>;

    /// The idempotency key of the record when the batch is idempotent
    /// ([`BatchHandler::idempotency`](crate::batch::BatchHandler::idempotency)): the SQS
    /// `messageId`, the Kinesis or DynamoDB Streams `eventID`. `None`: no key.
    #[cfg(feature = "idempotency")]
    fn idempotency_key(&self) -> Option<serde_json::Value> {
        None
    }

    /// The payload of the record `raw` as its sender wrote it, as JSON, read again when the
    /// payload fails validation so that each field is named by the sender's key (see
    /// [`crate::validation`]); `None`, the default: the fields keep their Rust names.
    fn sent_payload(raw: &RawValue) -> Option<serde_json::Value> {
        let _ = raw;
        None
    }

    /// Why this record is acknowledged without calling the handler (S3's `s3:TestEvent`),
    /// logged at INFO; `None`, the default: the handler runs.
    fn acknowledged(&self) -> Option<&'static str> {
        None
    }
}

/// Decodes a whole record; on failure, decodes it again to name the path of the problem (the
/// path costs time on every field, so only a failing record pays for it).
fn decode_record<T: DeserializeOwned>(raw: &RawValue) -> Result<T, String> {
    match serde_json::from_str(raw.get()) {
        Ok(record) => Ok(record),
        Err(_) => {
            let mut deserializer = serde_json::Deserializer::from_str(raw.get());
            Err(match decode::json::<_, T>(&mut deserializer) {
                Ok(_) => "the record does not decode".to_owned(),
                Err(error) => match error.path() {
                    None => format!("the record does not decode: {error}"),
                    Some(path) => format!("the record does not decode at {path}: {error}"),
                },
            })
        }
    }
}

/// Decodes a payload as JSON into `T`, naming where it fails.
fn decode_json<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, String> {
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    Err(match decode::json_slice::<T>(bytes) {
        Ok(_) => format!("the {what} does not decode"),
        Err(error) if error.is_syntax() => format!("the {what} is not JSON: {error}"),
        Err(error) => match error.path() {
            None => format!("the {what} does not decode: {error}"),
            Some(path) => format!("the {what} does not decode at {path}: {error}"),
        },
    })
}

/// An SQS message whose body is JSON decoded into `T`.
#[derive(Debug, Clone)]
pub struct SqsMessage<T> {
    body: T,
    message: SqsEventMessage,
}

impl<T> SqsMessage<T> {
    /// A message, for calling a handler in a test.
    ///
    /// ```
    /// use helve::batch::SqsMessage;
    ///
    /// let message = SqsMessage::new("m-1", 42).attribute("ApproximateReceiveCount", "3");
    /// assert_eq!(message.receive_count(), 3);
    /// ```
    pub fn new(message_id: impl Into<String>, body: T) -> Self {
        let mut message = SqsEventMessage::default();
        message.message_id = Some(message_id.into());
        message.event_source = Some("aws:sqs".to_owned());
        Self { body, message }
    }

    /// Sets an attribute, as SQS would (`ApproximateReceiveCount`, `MessageGroupId`, ...), for
    /// a test.
    pub fn attribute(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.message.attributes.insert(name.into(), value.into());
        self
    }

    /// Sets the queue's ARN (one ending in `.fifo` is a FIFO queue), for a test.
    pub fn event_source_arn(mut self, arn: impl Into<String>) -> Self {
        self.message.event_source_arn = Some(arn.into());
        self
    }

    /// The decoded body.
    pub fn body(&self) -> &T {
        &self.body
    }

    /// The decoded body, owned.
    pub fn into_body(self) -> T {
        self.body
    }

    /// The message id (the item identifier of `batchItemFailures`).
    pub fn message_id(&self) -> &str {
        self.message.message_id.as_deref().unwrap_or_default()
    }

    /// The FIFO message group, if any.
    pub fn message_group_id(&self) -> Option<&str> {
        self.message
            .attributes
            .get("MessageGroupId")
            .map(String::as_str)
    }

    /// How many times the message was received, this time included
    /// (`ApproximateReceiveCount`): more than 1 means a redelivery.
    pub fn receive_count(&self) -> u32 {
        self.message
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|count| count.parse().ok())
            .unwrap_or(1)
    }

    /// The message as `aws_lambda_events` has it: attributes, message attributes, ARN.
    pub fn message(&self) -> &SqsEventMessage {
        &self.message
    }
}

impl<T: DeserializeOwned + Send + 'static> Record for SqsMessage<T> {
    type Payload = T;
    const SOURCE: RecordSource = RecordSource::Sqs;

    fn decode(raw: &RawValue) -> Result<Self, String> {
        let mut message: SqsEventMessage = decode_record(raw)?;
        let body = message.body.take().unwrap_or_default();
        let body = decode_json("body", body.as_bytes())?;
        Ok(Self { body, message })
    }

    fn payload(&self) -> Option<&T> {
        Some(&self.body)
    }

    fn sent_payload(raw: &RawValue) -> Option<serde_json::Value> {
        #[derive(Deserialize)]
        struct Body {
            body: String,
        }
        let Body { body } = serde_json::from_str(raw.get()).ok()?;
        serde_json::from_str(&body).ok()
    }

    #[cfg(feature = "idempotency")]
    fn idempotency_key(&self) -> Option<serde_json::Value> {
        self.message
            .message_id
            .clone()
            .map(serde_json::Value::String)
    }

    #[cfg(feature = "s3")]
    fn acknowledged(&self) -> Option<&'static str> {
        // `T` is `'static`: a body that is an S3 notification is seen as one.
        let body: &dyn std::any::Any = &self.body;
        body.downcast_ref::<crate::s3::S3Notification>()
            .filter(|notification| notification.is_test_event())
            .map(|_| "the message is S3's s3:TestEvent, sent when the notification was configured: acknowledged")
    }
}

impl Record for SqsEventMessage {
    type Payload = ();
    const SOURCE: RecordSource = RecordSource::Sqs;

    fn decode(raw: &RawValue) -> Result<Self, String> {
        decode_record(raw)
    }

    fn payload(&self) -> Option<&()> {
        None
    }

    #[cfg(feature = "idempotency")]
    fn idempotency_key(&self) -> Option<serde_json::Value> {
        self.message_id.clone().map(serde_json::Value::String)
    }
}

/// A Kinesis record whose data (base64 in the event) is JSON decoded into `T`.
#[derive(Debug, Clone)]
pub struct KinesisRecord<T> {
    data: T,
    record: KinesisEventRecord,
}

impl<T> KinesisRecord<T> {
    /// The decoded data.
    pub fn data(&self) -> &T {
        &self.data
    }

    /// The decoded data, owned.
    pub fn into_data(self) -> T {
        self.data
    }

    /// The sequence number (the item identifier of `batchItemFailures`).
    pub fn sequence_number(&self) -> &str {
        &self.record.kinesis.sequence_number
    }

    /// The partition key.
    pub fn partition_key(&self) -> &str {
        &self.record.kinesis.partition_key
    }

    /// The record as `aws_lambda_events` has it (its data still holds the raw bytes).
    pub fn record(&self) -> &KinesisEventRecord {
        &self.record
    }
}

impl<T: DeserializeOwned + Send + 'static> Record for KinesisRecord<T> {
    type Payload = T;
    const SOURCE: RecordSource = RecordSource::Kinesis;

    fn decode(raw: &RawValue) -> Result<Self, String> {
        let record: KinesisEventRecord = decode_record(raw).map_err(|reason| {
            if reason.contains("kinesis.data") {
                format!("{reason} (the data is not valid base64)")
            } else {
                reason
            }
        })?;
        let data = decode_json("data", &record.kinesis.data.0)?;
        Ok(Self { data, record })
    }

    fn payload(&self) -> Option<&T> {
        Some(&self.data)
    }

    fn sent_payload(raw: &RawValue) -> Option<serde_json::Value> {
        let record: KinesisEventRecord = serde_json::from_str(raw.get()).ok()?;
        serde_json::from_slice(&record.kinesis.data.0).ok()
    }

    #[cfg(feature = "idempotency")]
    fn idempotency_key(&self) -> Option<serde_json::Value> {
        self.record.event_id.clone().map(serde_json::Value::String)
    }
}

impl Record for KinesisEventRecord {
    type Payload = ();
    const SOURCE: RecordSource = RecordSource::Kinesis;

    fn decode(raw: &RawValue) -> Result<Self, String> {
        decode_record(raw)
    }

    fn payload(&self) -> Option<&()> {
        None
    }

    #[cfg(feature = "idempotency")]
    fn idempotency_key(&self) -> Option<serde_json::Value> {
        self.event_id.clone().map(serde_json::Value::String)
    }
}

/// A DynamoDB stream record whose images are decoded into `T`.
#[derive(Debug, Clone)]
pub struct DynamoDbRecord<T> {
    new_image: Option<T>,
    old_image: Option<T>,
    record: DynamoDbEventRecord,
}

impl<T> DynamoDbRecord<T> {
    /// `INSERT`, `MODIFY` or `REMOVE`.
    pub fn event_name(&self) -> &str {
        &self.record.event_name
    }

    /// The item after the change (`INSERT`, `MODIFY`), when the stream carries new images.
    pub fn new_image(&self) -> Option<&T> {
        self.new_image.as_ref()
    }

    /// The item before the change (`MODIFY`, `REMOVE`), when the stream carries old images.
    pub fn old_image(&self) -> Option<&T> {
        self.old_image.as_ref()
    }

    /// The sequence number (the item identifier of `batchItemFailures`).
    pub fn sequence_number(&self) -> &str {
        self.record
            .change
            .sequence_number
            .as_deref()
            .unwrap_or_default()
    }

    /// The record as `aws_lambda_events` has it: keys, images as attribute values.
    pub fn record(&self) -> &DynamoDbEventRecord {
        &self.record
    }
}

impl<T: DeserializeOwned + Send + 'static> Record for DynamoDbRecord<T> {
    type Payload = T;
    const SOURCE: RecordSource = RecordSource::DynamoDb;

    fn decode(raw: &RawValue) -> Result<Self, String> {
        let record: DynamoDbEventRecord = decode_record(raw)?;
        let image = |name: &str, item: &serde_dynamo::Item| -> Result<Option<T>, String> {
            if item.is_empty() {
                return Ok(None);
            }
            // Into JSON, helve writes the value itself: binary as base64 text (JSON has no
            // bytes), numbers exactly (a number JSON cannot hold exactly stays a string).
            if std::any::TypeId::of::<T>() == std::any::TypeId::of::<serde_json::Value>() {
                let json = serde_json::Value::Object(
                    item.iter()
                        .map(|(key, value)| (key.clone(), attribute_json(value)))
                        .collect(),
                );
                return serde_json::from_value(json)
                    .map(Some)
                    .map_err(|error| format!("the {name} does not decode: {error}"));
            }
            serde_dynamo::from_item(item.clone())
                .map(Some)
                .map_err(|error| format!("the {name} does not decode: {error}"))
        };
        let new_image = image("NewImage", &record.change.new_image)?;
        let old_image = image("OldImage", &record.change.old_image)?;
        Ok(Self {
            new_image,
            old_image,
            record,
        })
    }

    fn payload(&self) -> Option<&T> {
        self.new_image.as_ref().or(self.old_image.as_ref())
    }

    fn sent_payload(raw: &RawValue) -> Option<serde_json::Value> {
        let record: DynamoDbEventRecord = serde_json::from_str(raw.get()).ok()?;
        // The image validated: the new one, else the old one.
        let change = &record.change;
        let item = if change.new_image.is_empty() {
            &change.old_image
        } else {
            &change.new_image
        };
        Some(serde_json::Value::Object(
            item.iter()
                .map(|(key, value)| (key.clone(), attribute_json(value)))
                .collect(),
        ))
    }

    #[cfg(feature = "idempotency")]
    fn idempotency_key(&self) -> Option<serde_json::Value> {
        Some(serde_json::Value::String(self.record.event_id.clone()))
    }
}

/// A DynamoDB attribute as JSON: `B` and `BS` as base64 text (as the stream event carries
/// them), `N` and `NS` as numbers when JSON holds them exactly, else as their digits in a
/// string; sets as arrays.
fn attribute_json(value: &serde_dynamo::AttributeValue) -> serde_json::Value {
    use base64::Engine as _;
    use serde_dynamo::AttributeValue;
    use serde_json::Value;
    let binary =
        |bytes: &[u8]| Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
    match value {
        AttributeValue::N(number) => exact_number(number),
        AttributeValue::S(text) => Value::String(text.clone()),
        AttributeValue::Bool(value) => Value::Bool(*value),
        AttributeValue::B(bytes) => binary(bytes),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::M(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), attribute_json(value)))
                .collect(),
        ),
        AttributeValue::L(list) => Value::Array(list.iter().map(attribute_json).collect()),
        AttributeValue::Ss(texts) => {
            Value::Array(texts.iter().cloned().map(Value::String).collect())
        }
        AttributeValue::Ns(numbers) => {
            Value::Array(numbers.iter().map(|number| exact_number(number)).collect())
        }
        AttributeValue::Bs(items) => {
            Value::Array(items.iter().map(|bytes| binary(bytes)).collect())
        }
    }
}

/// A DynamoDB number (up to 38 digits) as JSON: an integer when it fits 64 bits, a float when
/// the float prints back to the same number, otherwise its text, so that no digit is lost.
fn exact_number(number: &str) -> serde_json::Value {
    let number = number.trim();
    if let Ok(integer) = number.parse::<i64>() {
        return integer.into();
    }
    if let Ok(integer) = number.parse::<u64>() {
        return integer.into();
    }
    if let Ok(float) = number.parse::<f64>()
        && float.is_finite()
        && same_decimal(number, float)
        && let Some(json) = serde_json::Number::from_f64(float)
    {
        return serde_json::Value::Number(json);
    }
    serde_json::Value::String(number.to_owned())
}

/// Whether `float` is the decimal `text` exactly, read as decimals (`3.14159` and `1e2` are,
/// `12345678901234567890123` is not).
fn same_decimal(text: &str, float: f64) -> bool {
    /// The digits without leading and trailing zeros, and the power of ten of the first.
    fn canonical(text: &str) -> Option<(String, i64)> {
        let text = text.trim_start_matches('+');
        let (negative, text) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent) = match text.split_once(['e', 'E']) {
            Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().ok()?),
            None => (text, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if !(whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        let digits = format!("{whole}{fraction}");
        let leading = digits.len() - digits.trim_start_matches('0').len();
        let digits = digits.trim_start_matches('0').trim_end_matches('0');
        if digits.is_empty() {
            return Some((String::from("0"), 0));
        }
        let power = exponent + whole.len() as i64 - leading as i64 - 1;
        Some((
            format!("{}{digits}", if negative { "-" } else { "" }),
            power,
        ))
    }
    // Rust prints the shortest decimal that reads back as the same float.
    match (canonical(text), canonical(&format!("{float:e}"))) {
        (Some(given), Some(printed)) => given == printed,
        _ => false,
    }
}

impl Record for DynamoDbEventRecord {
    type Payload = ();
    const SOURCE: RecordSource = RecordSource::DynamoDb;

    fn decode(raw: &RawValue) -> Result<Self, String> {
        decode_record(raw)
    }

    fn payload(&self) -> Option<&()> {
        None
    }

    #[cfg(feature = "idempotency")]
    fn idempotency_key(&self) -> Option<serde_json::Value> {
        Some(serde_json::Value::String(self.event_id.clone()))
    }
}
