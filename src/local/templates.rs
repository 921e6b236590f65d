//! `--event-template KIND`: an event of each source helve handles, in the shape AWS sends it,
//! to edit and run.

/// The templates, by the name `--event-template` takes, in the order the usage lists them.
const TEMPLATES: [(&str, &str); 13] = [
    ("http-v2", include_str!("templates/http-v2.json")),
    ("http-v1", include_str!("templates/http-v1.json")),
    ("alb", include_str!("templates/alb.json")),
    ("function-url", include_str!("templates/function-url.json")),
    ("sqs", include_str!("templates/sqs.json")),
    ("sqs-fifo", include_str!("templates/sqs-fifo.json")),
    ("kinesis", include_str!("templates/kinesis.json")),
    ("dynamodb", include_str!("templates/dynamodb.json")),
    ("cfn-create", include_str!("templates/cfn-create.json")),
    ("cfn-update", include_str!("templates/cfn-update.json")),
    ("cfn-delete", include_str!("templates/cfn-delete.json")),
    ("schedule", include_str!("templates/schedule.json")),
    ("s3", include_str!("templates/s3.json")),
];

/// One template event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Template {
    json: &'static str,
}

impl Template {
    /// The template named `name`, if there is one.
    pub(super) fn named(name: &str) -> Option<Self> {
        TEMPLATES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|&(_, json)| Self { json })
    }

    /// The names `--event-template` takes, comma-separated.
    pub(super) fn names() -> String {
        TEMPLATES
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The event, pretty-printed JSON ending with a newline.
    pub(crate) fn json(self) -> &'static str {
        self.json
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn template(name: &str) -> &'static str {
        Template::named(name)
            .unwrap_or_else(|| panic!("a template `{name}`"))
            .json()
    }

    #[test]
    fn every_template_is_json_named_by_its_kind() {
        assert_eq!(
            Template::names(),
            "http-v2, http-v1, alb, function-url, sqs, sqs-fifo, kinesis, dynamodb, \
             cfn-create, cfn-update, cfn-delete, schedule, s3"
        );
        for (name, json) in TEMPLATES {
            let value: Value = serde_json::from_str(json)
                .unwrap_or_else(|error| panic!("`{name}` is JSON: {error}"));
            assert!(value.is_object(), "{name}");
            assert!(json.ends_with('\n'), "{name} ends with a newline");
            assert_eq!(Template::named(name).map(Template::json), Some(json));
        }
        assert_eq!(Template::named("sns"), None);
    }

    #[test]
    fn the_schedule_template_is_an_eventbridge_scheduled_event() {
        let event: aws_lambda_events::event::eventbridge::EventBridgeEvent =
            serde_json::from_str(template("schedule")).unwrap();
        assert_eq!(event.detail_type, "Scheduled Event");
        assert_eq!(event.source, "aws.events");
    }

    #[cfg(feature = "http")]
    #[test]
    fn the_http_templates_decode_as_http_events_of_their_source() {
        use lambda_http::request::{LambdaRequest, RequestOrigin};

        for (name, origin) in [
            ("http-v2", RequestOrigin::ApiGatewayV2),
            ("function-url", RequestOrigin::ApiGatewayV2),
            ("http-v1", RequestOrigin::ApiGatewayV1),
            ("alb", RequestOrigin::Alb),
        ] {
            serde_json::from_str::<crate::http::HttpEvent>(template(name))
                .unwrap_or_else(|error| panic!("`{name}` is an HttpEvent: {error}"));
            let request: LambdaRequest = serde_json::from_str(template(name)).unwrap();
            assert_eq!(
                format!("{:?}", request.request_origin()),
                format!("{origin:?}"),
                "{name}"
            );
        }
    }

    #[cfg(feature = "batch")]
    #[test]
    fn the_batch_templates_decode_as_records_of_their_source() {
        use crate::batch::{DynamoDbRecord, KinesisRecord, Record, SqsMessage};
        use serde_json::value::RawValue;

        fn records(name: &str) -> Vec<Box<RawValue>> {
            #[derive(serde::Deserialize)]
            struct Batch {
                #[serde(rename = "Records")]
                records: Vec<Box<RawValue>>,
            }
            let batch: Batch = serde_json::from_str(template(name)).unwrap();
            assert!(!batch.records.is_empty(), "{name}");
            batch.records
        }
        for name in ["sqs", "sqs-fifo"] {
            for record in records(name) {
                let message = SqsMessage::<Value>::decode(&record)
                    .unwrap_or_else(|error| panic!("`{name}`: {error}"));
                assert!(message.body().is_object(), "{name}");
                assert_eq!(
                    message.message_group_id().is_some(),
                    name == "sqs-fifo",
                    "{name}"
                );
            }
        }
        for record in records("kinesis") {
            let record = KinesisRecord::<Value>::decode(&record).unwrap();
            assert!(record.data().is_object());
        }
        for record in records("dynamodb") {
            #[derive(Debug, serde::Deserialize)]
            #[allow(dead_code)]
            struct Order {
                id: String,
                sku: String,
                qty: u32,
            }
            let record = DynamoDbRecord::<Order>::decode(&record).unwrap();
            assert!(record.new_image().is_some());
        }
    }

    #[cfg(feature = "cfn")]
    #[test]
    fn the_custom_resource_templates_decode_as_requests_of_their_type() {
        for (name, kind) in [
            ("cfn-create", "Create"),
            ("cfn-update", "Update"),
            ("cfn-delete", "Delete"),
        ] {
            serde_json::from_str::<crate::cfn::RawRequest>(template(name))
                .unwrap_or_else(|error| panic!("`{name}` is a RawRequest: {error}"));
            // What the custom-resource handler reads before it calls the user's function.
            let value: Value = serde_json::from_str(template(name)).unwrap();
            assert_eq!(value["RequestType"], kind, "{name}");
            for field in ["StackId", "RequestId", "LogicalResourceId", "ResponseURL"] {
                assert!(value[field].is_string(), "{name} has {field}");
            }
            assert!(value["ResourceProperties"].is_object(), "{name}");
            assert_eq!(
                value["PhysicalResourceId"].is_string(),
                kind != "Create",
                "{name}"
            );
            assert_eq!(
                value["OldResourceProperties"].is_object(),
                kind == "Update",
                "{name}"
            );
        }
    }

    #[cfg(feature = "s3")]
    #[test]
    fn the_s3_template_decodes_as_an_object_created_notification() {
        let value: Value = serde_json::from_str(template("s3")).unwrap();
        let notification = crate::s3::S3Notification::from_value(&value).unwrap();
        let [object] = notification.objects() else {
            panic!("one object: {notification:?}");
        };
        assert_eq!(object.bucket, "orders-inbox");
        assert_eq!(object.key, "2026/11/23/orders part-1.jsonl");
    }
}
