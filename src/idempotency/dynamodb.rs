//! Records in a DynamoDB table (features `idempotency` and `dynamodb`), in Powertools'
//! layout, with Powertools' conditional writes: [`DynamoDbStore`].

use std::{collections::HashMap, fmt, sync::Arc, time::Duration};

use aws_sdk_dynamodb::{
    Client,
    config::timeout::TimeoutConfig,
    error::SdkError,
    types::{AttributeValue, ReturnValuesOnConditionCheckFailure},
};

use super::{
    DYNAMODB_ITEM_LIMIT,
    record::{Now, Record, Status},
    store::{Acquired, Store, StoreError, StoreFuture},
};
use crate::{ConfigError, aws::Environment};

/// How long one store call may take, the SDK's retries included, with
/// [`DynamoDbStore::from_env`]: a store that does not answer fails the request in time for
/// the caller to retry it, well before Lambda's timeout.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(3);

// Powertools' attribute names, so that a Powertools function shares the table.
const ID: &str = "id";
const EXPIRATION: &str = "expiration";
const IN_PROGRESS_EXPIRATION: &str = "in_progress_expiration";
const STATUS: &str = "status";
const DATA: &str = "data";
const VALIDATION: &str = "validation";

/// The acquiring write's condition, Powertools' own: no record, an expired one, or one in
/// progress past its `in_progress_expiration`.
const ACQUIRE_CONDITION: &str = "attribute_not_exists(#id) OR #expiry < :now OR \
     (#status = :inprogress AND attribute_exists(#in_progress_expiry) AND #in_progress_expiry < :now_in_millis)";

/// Idempotency records in a DynamoDB table whose partition key is `id` (a string), with the
/// attributes Powertools for AWS Lambda writes: `expiration` (epoch seconds: make it the
/// table's TTL attribute), `status`, `in_progress_expiration` (epoch milliseconds), `data` and
/// `validation`. A Powertools function given the same key prefix shares the table.
///
/// A first execution makes two calls (a conditional `PutItem`, then an `UpdateItem`), a
/// replay one (the `PutItem`, whose failed condition returns the record).
///
/// ```no_run
/// use helve::idempotency::{DynamoDbStore, Idempotency};
///
/// // On Lambda: the function's region and role; `AWS_ENDPOINT_URL_DYNAMODB` for a local one.
/// let idempotency = Idempotency::new(DynamoDbStore::from_env("idempotency"));
/// ```
#[derive(Clone)]
pub struct DynamoDbStore {
    client: Result<Client, ConfigError>,
    table: Arc<str>,
}

impl fmt::Debug for DynamoDbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoDbStore")
            .field("table", &self.table)
            .field("configured", &self.client.is_ok())
            .finish_non_exhaustive()
    }
}

impl DynamoDbStore {
    /// Records in `table`, through `client` (configured as you like it: give it
    /// [`crate::aws::https_client`] as its HTTP client if you build it without the SDK's
    /// default one).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client: Ok(client),
            table: Arc::from(table.into()),
        }
    }

    /// Records in `table`, through a client configured from what Lambda puts in the
    /// environment, without aws-config's provider chain (which costs tens of milliseconds of
    /// cold start): the region `AWS_REGION` (or `AWS_DEFAULT_REGION`), the role's credentials
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, and the endpoint
    /// `AWS_ENDPOINT_URL_DYNAMODB` (or `AWS_ENDPOINT_URL`) when one is set, for a local
    /// DynamoDB. A call gives up after [`DEFAULT_CALL_TIMEOUT`].
    ///
    /// A variable that is missing (only possible outside Lambda) is reported by every call,
    /// as a store error naming it.
    pub fn from_env(table: impl Into<String>) -> Self {
        Self::from_vars(|name| std::env::var(name).ok(), table)
    }

    pub(crate) fn from_vars(
        var: impl Fn(&str) -> Option<String>,
        table: impl Into<String>,
    ) -> Self {
        let client = Environment::read(var, "AWS_ENDPOINT_URL_DYNAMODB").map(|environment| {
            let config = crate::aws::config_from_environment!(aws_sdk_dynamodb, environment)
                .timeout_config(
                    TimeoutConfig::builder()
                        .operation_timeout(DEFAULT_CALL_TIMEOUT)
                        .build(),
                );
            Client::from_conf(config.build())
        });
        Self {
            client,
            table: Arc::from(table.into()),
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The client, when the store is configured.
    pub fn client(&self) -> Option<&Client> {
        self.client.as_ref().ok()
    }

    fn configured(&self) -> Result<&Client, StoreError> {
        self.client.as_ref().map_err(|error| {
            StoreError::new(format!(
                "the DynamoDB store of table {} is not configured: {error}",
                self.table
            ))
        })
    }

    async fn put(&self, record: &Record, now: Now) -> Result<Acquired, StoreError> {
        let client = self.configured()?;
        let result = client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(to_item(record)))
            .condition_expression(ACQUIRE_CONDITION)
            .expression_attribute_names("#id", ID)
            .expression_attribute_names("#expiry", EXPIRATION)
            .expression_attribute_names("#in_progress_expiry", IN_PROGRESS_EXPIRATION)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":now", number(now.seconds()))
            .expression_attribute_values(":now_in_millis", number(now.millis()))
            .expression_attribute_values(
                ":inprogress",
                AttributeValue::S(Status::InProgress.as_str().to_owned()),
            )
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Acquired::Written),
            Err(error) => match error.as_service_error() {
                Some(failed) if failed.is_conditional_check_failed_exception() => {
                    let item = match error.into_service_error() {
                        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(
                            failed,
                        ) => failed.item,
                        _ => None,
                    };
                    match item {
                        Some(item) if !item.is_empty() => {
                            Ok(Acquired::Exists(Some(from_item(&record.key, &item)?)))
                        }
                        _ => Ok(Acquired::Exists(None)),
                    }
                }
                _ => Err(self.failed("PutItem", error)),
            },
        }
    }

    async fn read(&self, key: &str) -> Result<Option<Record>, StoreError> {
        let client = self.configured()?;
        let output = client
            .get_item()
            .table_name(&*self.table)
            .key(ID, AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| self.failed("GetItem", error))?;
        output.item.map(|item| from_item(key, &item)).transpose()
    }

    async fn update(&self, record: &Record) -> Result<(), StoreError> {
        let client = self.configured()?;
        let mut expression = String::from(
            "SET #response_data = :response_data, #expiry = :expiry, #status = :status",
        );
        let mut request = client
            .update_item()
            .table_name(&*self.table)
            .key(ID, AttributeValue::S(record.key.clone()))
            .expression_attribute_names("#response_data", DATA)
            .expression_attribute_names("#expiry", EXPIRATION)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(
                ":response_data",
                AttributeValue::S(record.data.clone().unwrap_or_else(|| "null".to_owned())),
            )
            .expression_attribute_values(":expiry", number(record.expiration))
            .expression_attribute_values(
                ":status",
                AttributeValue::S(record.status.as_str().to_owned()),
            );
        if let Some(validation) = &record.validation {
            expression.push_str(", #validation_key = :validation_key");
            request = request
                .expression_attribute_names("#validation_key", VALIDATION)
                .expression_attribute_values(
                    ":validation_key",
                    AttributeValue::S(validation.clone()),
                );
        }
        request
            .update_expression(expression)
            .send()
            .await
            .map_err(|error| self.failed("UpdateItem", error))?;
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<(), StoreError> {
        let client = self.configured()?;
        client
            .delete_item()
            .table_name(&*self.table)
            .key(ID, AttributeValue::S(key.to_owned()))
            .send()
            .await
            .map_err(|error| self.failed("DeleteItem", error))?;
        Ok(())
    }

    /// A failed call: DynamoDB's error code and message, or why no answer came.
    fn failed<E>(
        &self,
        operation: &str,
        error: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    ) -> StoreError
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata
            + std::error::Error
            + Send
            + Sync
            + 'static,
    {
        StoreError::new(format!(
            "DynamoDB {operation} on table {} failed: {}",
            self.table,
            crate::aws::describe(&error)
        ))
    }
}

impl Store for DynamoDbStore {
    fn put_in_progress<'a>(&'a self, record: &'a Record, now: Now) -> StoreFuture<'a, Acquired> {
        Box::pin(self.put(record, now))
    }

    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Record>> {
        Box::pin(self.read(key))
    }

    fn complete<'a>(&'a self, record: &'a Record) -> StoreFuture<'a, ()> {
        Box::pin(self.update(record))
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(self.remove(key))
    }

    fn max_record_size(&self) -> Option<usize> {
        Some(DYNAMODB_ITEM_LIMIT)
    }
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The item of an in-progress record, as Powertools writes it.
fn to_item(record: &Record) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::with_capacity(5);
    item.insert(ID.to_owned(), AttributeValue::S(record.key.clone()));
    item.insert(EXPIRATION.to_owned(), number(record.expiration));
    item.insert(
        STATUS.to_owned(),
        AttributeValue::S(record.status.as_str().to_owned()),
    );
    if let Some(expiry) = record.in_progress_expiration {
        item.insert(IN_PROGRESS_EXPIRATION.to_owned(), number(expiry));
    }
    if let Some(data) = &record.data {
        item.insert(DATA.to_owned(), AttributeValue::S(data.clone()));
    }
    if let Some(validation) = &record.validation {
        item.insert(VALIDATION.to_owned(), AttributeValue::S(validation.clone()));
    }
    item
}

/// The record of an item of key `key`. An item that is not a record (written by something
/// else) is a store error naming the attribute, never its value.
pub(crate) fn from_item(
    key: &str,
    item: &HashMap<String, AttributeValue>,
) -> Result<Record, StoreError> {
    let invalid = |attribute: &str, expected: &str| {
        StoreError::new(format!(
            "the item of idempotency key {key} is not a record: its `{attribute}` is {expected}"
        ))
    };
    let string = |attribute: &str| match item.get(attribute) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(text)) => Ok(Some(text.clone())),
        Some(_) => Err(invalid(attribute, "not a string")),
    };
    // Powertools writes whole numbers; a decimal one (written by hand) counts by its whole part.
    let whole = |attribute: &str| match item.get(attribute) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(text)) => text
            .split('.')
            .next()
            .and_then(|whole| whole.parse::<u64>().ok())
            .map(Some)
            .ok_or_else(|| invalid(attribute, "not a whole number of at least 0")),
        Some(_) => Err(invalid(attribute, "not a number")),
    };
    let status = string(STATUS)?.ok_or_else(|| invalid(STATUS, "missing"))?;
    let status = Status::parse(&status)
        .ok_or_else(|| invalid(STATUS, "neither INPROGRESS nor COMPLETED"))?;
    Ok(Record {
        key: key.to_owned(),
        status,
        expiration: whole(EXPIRATION)?.ok_or_else(|| invalid(EXPIRATION, "missing"))?,
        in_progress_expiration: whole(IN_PROGRESS_EXPIRATION)?,
        data: string(DATA)?,
        validation: string(VALIDATION)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            key: "orders#abc".to_owned(),
            status: Status::InProgress,
            expiration: 1_700_003_600,
            in_progress_expiration: Some(1_700_000_030_000),
            data: None,
            validation: Some("d41d8cd98f00b204e9800998ecf8427e".to_owned()),
        }
    }

    #[test]
    fn a_record_reads_back_from_its_item() {
        let record = record();
        assert_eq!(
            from_item(&record.key, &to_item(&record)).ok(),
            Some(record.clone())
        );
        let completed = Record {
            status: Status::Completed,
            data: Some(r#"{"id": 1}"#.to_owned()),
            in_progress_expiration: None,
            ..record
        };
        assert_eq!(
            from_item(&completed.key, &to_item(&completed)).ok(),
            Some(completed)
        );
    }

    #[test]
    fn an_item_that_is_not_a_record_is_reported_without_its_values() {
        let mut item = to_item(&record());
        item.insert(
            STATUS.to_owned(),
            AttributeValue::S("secret-status".to_owned()),
        );
        let error = from_item("orders#abc", &item).err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "the item of idempotency key orders#abc is not a record: its `status` is neither INPROGRESS nor COMPLETED"
            )
        );
        let mut item = to_item(&record());
        item.insert(EXPIRATION.to_owned(), AttributeValue::S("soon".to_owned()));
        let error = from_item("orders#abc", &item).err().map(|e| e.to_string());
        assert!(
            error.as_deref().is_some_and(
                |e| e.ends_with("its `expiration` is not a number") && !e.contains("soon")
            ),
            "{error:?}"
        );
        item.remove(EXPIRATION);
        let error = from_item("orders#abc", &item).err().map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.ends_with("its `expiration` is missing")));
    }

    #[tokio::test]
    async fn a_store_without_its_environment_names_the_missing_variable_at_each_call() {
        let vars = |name: &str| match name {
            "AWS_REGION" => Some("eu-west-1".to_owned()),
            "AWS_ACCESS_KEY_ID" => Some("AKIDEXAMPLE".to_owned()),
            _ => None,
        };
        let store = DynamoDbStore::from_vars(vars, "idempotency");
        assert!(store.client().is_none());
        let error = store.get("orders#abc").await.err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some(
                "the DynamoDB store of table idempotency is not configured: invalid setting AWS_SECRET_ACCESS_KEY: is not set: Lambda sets it for every function; locally, set it (any value works against a local endpoint)"
            )
        );
    }

    #[tokio::test]
    async fn the_store_calls_the_endpoint_the_environment_names_for_dynamodb() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.ok();
        let address = listener.as_ref().and_then(|l| l.local_addr().ok());
        let (Some(listener), Some(address)) = (listener, address) else {
            panic!("a free port on 127.0.0.1");
        };
        let endpoint = format!("http://{address}");
        let vars = move |name: &str| match name {
            "AWS_DEFAULT_REGION" => Some("eu-west-1".to_owned()),
            "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("testing".to_owned()),
            "AWS_ENDPOINT_URL" => Some("http://127.0.0.1:9".to_owned()),
            "AWS_ENDPOINT_URL_DYNAMODB" => Some(endpoint.clone()),
            _ => None,
        };
        let store = DynamoDbStore::from_vars(vars, "idempotency");
        let region = store
            .client()
            .and_then(|client| client.config().region().map(|r| r.as_ref().to_owned()));
        assert_eq!(region.as_deref(), Some("eu-west-1"));
        let call = tokio::spawn(async move { store.get("orders#abc").await.is_err() });
        let accepted = listener.accept().await;
        assert!(
            accepted.is_ok(),
            "the call reached AWS_ENDPOINT_URL_DYNAMODB"
        );
        drop(accepted);
        drop(listener);
        assert!(
            call.await.unwrap_or(false),
            "a closed connection fails the call"
        );
    }
}
