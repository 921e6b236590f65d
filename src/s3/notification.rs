//! One S3 notification, out of whichever envelope it came in.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::key::decode_key;

/// How many envelopes deep a notification is looked for: an SNS envelope (or an SNS record)
/// around the S3 event, no more.
const MAX_ENVELOPES: usize = 2;

/// An object a notification is about: one record of an S3 event, or the `detail` of an
/// EventBridge event from `aws.s3`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectCreated {
    /// The bucket's name.
    pub bucket: String,
    /// The object's key, decoded (`red flower.jpg`, not `red+flower.jpg`).
    pub key: String,
    /// The object's size in bytes.
    pub size: Option<u64>,
    /// The object's entity tag, without quotes.
    pub etag: Option<String>,
    /// The object's version, in a versioned bucket.
    pub version_id: Option<String>,
    /// S3's ordering of the events of one key: a later event has a greater sequencer (compare
    /// them as hex numbers, zero-padded to the same length).
    pub sequencer: Option<String>,
    /// When the event happened (ISO 8601, as S3 writes it).
    pub event_time: Option<String>,
    /// What happened: `ObjectCreated:Put`, `ObjectCreated:CompleteMultipartUpload`, ...; from
    /// EventBridge, its `detail-type` (`Object Created`).
    pub event_name: String,
    /// The bucket's region.
    pub region: Option<String>,
}

impl ObjectCreated {
    /// An object of `bucket` at `key` (decoded), for a test; the rest unset.
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            key: key.into(),
            size: None,
            etag: None,
            version_id: None,
            sequencer: None,
            event_time: None,
            event_name: "ObjectCreated:Put".to_owned(),
            region: None,
        }
    }

    /// A deterministic id for the item made from line `line` of this object, so that a
    /// redelivered notification overwrites the items of its first delivery instead of
    /// duplicating them: the md5, in lower-case hex, of the bucket, the key, the version (the
    /// eTag in a bucket without versioning) and the line number in decimal, the first three
    /// each followed by a NUL byte. A new version of the object (or new content, without
    /// versioning) gets new ids.
    ///
    /// ```
    /// let object = helve::s3::ObjectCreated::new("exports", "batch-output/job 1/part+1.jsonl")
    ///     .with_version_id("v-3");
    /// assert_eq!(object.item_id(42), "1641d14b384b5954efed8d375643bfdc");
    /// ```
    pub fn item_id(&self, line: u64) -> String {
        use md5::{Digest as _, Md5};
        let version = self
            .version_id
            .as_deref()
            .or(self.etag.as_deref())
            .unwrap_or_default();
        let mut hasher = Md5::new();
        for part in [self.bucket.as_str(), self.key.as_str(), version] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        hasher.update(line.to_string().as_bytes());
        crate::json_escape::lower_hex(&hasher.finalize())
    }

    /// The same object with its version, for a test.
    pub fn with_version_id(mut self, version_id: impl Into<String>) -> Self {
        self.version_id = Some(version_id.into());
        self
    }

    /// The same object with its size, for a test.
    pub fn with_size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }
}

/// The objects of one S3 notification, or S3's test message. Decodes (as an event, or as the
/// body of an SQS message) from:
///
/// - an S3 event, `{"Records": [{"eventSource": "aws:s3", "s3": {...}}]}`, as S3 sends it to
///   Lambda, to SQS and (with raw delivery) through SNS;
/// - an SNS envelope whose `Message` is that event (SNS to SQS without raw delivery), or an SNS
///   event to Lambda whose records carry it;
/// - an EventBridge event from `aws.s3` (`detail.bucket.name`, `detail.object.key`);
/// - `{"Event": "s3:TestEvent", ...}`, which S3 sends to a queue when the notification is
///   configured: [`is_test_event`](S3Notification::is_test_event), and no objects.
///
/// Anything else fails to decode with what was expected, never the value that came.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Notification {
    objects: Vec<ObjectCreated>,
    test_event: bool,
}

impl S3Notification {
    /// A notification of these objects, for a test.
    pub fn new(objects: Vec<ObjectCreated>) -> Self {
        Self {
            objects,
            test_event: false,
        }
    }

    /// S3's `s3:TestEvent`, for a test.
    pub fn test_event() -> Self {
        Self {
            objects: Vec::new(),
            test_event: true,
        }
    }

    /// The objects, in the order of the event's records.
    pub fn objects(&self) -> &[ObjectCreated] {
        &self.objects
    }

    /// The objects, owned.
    pub fn into_objects(self) -> Vec<ObjectCreated> {
        self.objects
    }

    /// Whether this is S3's `s3:TestEvent`, which has no objects and asks for nothing but to be
    /// received.
    pub fn is_test_event(&self) -> bool {
        self.test_event
    }

    /// The notification in `value`: see the type's documentation for the shapes it takes.
    pub fn from_value(value: &Value) -> Result<Self, String> {
        let mut notification = Self::default();
        notification.read(value, 0)?;
        Ok(notification)
    }

    fn read(&mut self, value: &Value, depth: usize) -> Result<(), String> {
        let Some(event) = value.as_object() else {
            return Err(format!("{EXPECTED}; it is not a JSON object"));
        };
        if event.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
            self.test_event = true;
            return Ok(());
        }
        if let Some(records) = event.get("Records") {
            let Some(records) = records.as_array() else {
                return Err("`Records` is not an array".to_owned());
            };
            for (index, record) in records.iter().enumerate() {
                self.read_record(record, depth)
                    .map_err(|reason| format!("`Records[{index}]`: {reason}"))?;
            }
            return Ok(());
        }
        if event.get("Type").and_then(Value::as_str) == Some("Notification")
            && let Some(message) = event.get("Message")
        {
            return self
                .read_embedded(message, depth)
                .map_err(|reason| format!("the SNS envelope's `Message`: {reason}"));
        }
        if event.get("source").and_then(Value::as_str) == Some("aws.s3") {
            let object = object_created(event, &EVENTBRIDGE)
                .map_err(|reason| format!("the EventBridge event from aws.s3: {reason}"))?;
            self.objects.push(object);
            return Ok(());
        }
        Err(format!(
            "{EXPECTED}; it has none of `Records`, an SNS `Message`, `source: aws.s3` or `Event: s3:TestEvent`"
        ))
    }

    fn read_record(&mut self, record: &Value, depth: usize) -> Result<(), String> {
        let Some(record) = record.as_object() else {
            return Err("it has no `eventSource`".to_owned());
        };
        let source = record
            .get("eventSource")
            .or_else(|| record.get("EventSource"))
            .and_then(Value::as_str);
        match source {
            Some("aws:s3") => {
                self.objects.push(object_created(record, &S3_RECORD)?);
                Ok(())
            }
            Some("aws:sns") => match record.get("Sns").and_then(|sns| sns.get("Message")) {
                Some(message) => self
                    .read_embedded(message, depth)
                    .map_err(|reason| format!("the SNS record's `Message`: {reason}")),
                None => Err("an SNS record without `Sns.Message`".to_owned()),
            },
            Some(_) => Err(
                "its `eventSource` is neither `aws:s3` nor `aws:sns` (an event of another service)"
                    .to_owned(),
            ),
            None => Err("it has no `eventSource`".to_owned()),
        }
    }

    /// A notification inside an envelope, as JSON text.
    fn read_embedded(&mut self, message: &Value, depth: usize) -> Result<(), String> {
        if depth + 1 > MAX_ENVELOPES {
            return Err("envelopes nest deeper than SNS around S3".to_owned());
        }
        let Some(text) = message.as_str() else {
            return Err("it is not a string".to_owned());
        };
        let inner: Value = serde_json::from_str(text).map_err(|error| {
            format!(
                "it is not JSON (line {} column {})",
                error.line(),
                error.column()
            )
        })?;
        self.read(&inner, depth + 1)
    }
}

const EXPECTED: &str = "expected an S3 event, an SNS envelope of one, an EventBridge event from aws.s3, or s3:TestEvent";

impl<'de> Deserialize<'de> for S3Notification {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        S3Notification::from_value(&value).map_err(serde::de::Error::custom)
    }
}

fn text(map: &Map<String, Value>, field: &str) -> Option<String> {
    map.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn object_of<'a>(value: &'a Value, field: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .get(field)
        .and_then(Value::as_object)
        .ok_or_else(|| format!("it has no `{field}` object"))
}

/// S3 writes sizes as numbers; a string of digits is taken too.
fn size(map: &Map<String, Value>) -> Option<u64> {
    match map.get("size") {
        Some(Value::Number(number)) => number.as_u64(),
        Some(Value::String(text)) => text.parse().ok(),
        _ => None,
    }
}

/// An ETag without the quotes S3 sometimes keeps around it.
fn etag(raw: Option<String>) -> Option<String> {
    raw.map(|tag| tag.trim_matches('"').to_owned())
}

/// Where each attribute of the object is in one shape of notification: under which object
/// of the event, and by which names.
struct Shape {
    parent: &'static str,
    etag: &'static str,
    version_id: &'static str,
    event_time: &'static str,
    event_name: &'static str,
    region: &'static str,
}

/// A record of an S3 event: `s3.bucket`, `s3.object`, `eventName`.
const S3_RECORD: Shape = Shape {
    parent: "s3",
    etag: "eTag",
    version_id: "versionId",
    event_time: "eventTime",
    event_name: "eventName",
    region: "awsRegion",
};

/// An EventBridge event from `aws.s3`: `detail.bucket`, `detail.object`, `detail-type`.
const EVENTBRIDGE: Shape = Shape {
    parent: "detail",
    etag: "etag",
    version_id: "version-id",
    event_time: "time",
    event_name: "detail-type",
    region: "region",
};

fn object_created(event: &Map<String, Value>, shape: &Shape) -> Result<ObjectCreated, String> {
    let parent = shape.parent;
    let within = event
        .get(parent)
        .ok_or_else(|| format!("it has no `{parent}` object"))?;
    let part =
        |field: &str| object_of(within, field).map_err(|reason| format!("`{parent}`: {reason}"));
    let (bucket, object) = (part("bucket")?, part("object")?);
    let missing = |part: &str, field: &str| format!("`{parent}.{part}` has no `{field}`");
    Ok(ObjectCreated {
        bucket: text(bucket, "name").ok_or_else(|| missing("bucket", "name"))?,
        key: decode_key(&text(object, "key").ok_or_else(|| missing("object", "key"))?),
        size: size(object),
        etag: etag(text(object, shape.etag)),
        version_id: text(object, shape.version_id),
        sequencer: text(object, "sequencer"),
        event_time: text(event, shape.event_time),
        event_name: text(event, shape.event_name).unwrap_or_default(),
        region: text(event, shape.region),
    })
}
