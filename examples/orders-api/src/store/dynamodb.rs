//! Orders in a DynamoDB table whose partition key is `id` (a string): one item per order,
//! with the attributes of [`Order`]. Creating an order is a `PutItem` with the condition
//! `attribute_not_exists(id)`, so an id is never taken twice.

use std::{collections::HashMap, time::Duration};

use aws_sdk_dynamodb::{
    Client, config::timeout::TimeoutConfig, error::SdkError, types::AttributeValue,
};

use super::{OrderStore, StoreError};
use crate::order::{LineItem, Order};

/// How long a call to DynamoDB may take, retries included, before the store gives up and the
/// request is answered 503: well within the function's timeout, so that the client gets an
/// answer it can act on.
pub const STORE_TIMEOUT: Duration = Duration::from_secs(3);

/// Orders in a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
}

impl DynamoDbStore {
    /// A store of orders in `table`, through `client`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// A store of orders in `table`, with a client configured as the AWS SDK configures itself
    /// from the environment: on Lambda, the function's region and role; locally, the usual
    /// profile and variables, `AWS_ENDPOINT_URL` included. A call gives up after
    /// [`STORE_TIMEOUT`].
    pub async fn from_env(table: impl Into<String>) -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(https_client())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(STORE_TIMEOUT)
                    .build(),
            )
            .load()
            .await;
        Self::new(Client::new(&config), table)
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }
}

/// The HTTPS client of the SDK: rustls with ring, instead of the SDK's default aws-lc, which
/// takes longer to build and to start.
fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::{
        Builder,
        tls::{Provider, rustls_provider::CryptoMode},
    };
    Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

impl OrderStore for DynamoDbStore {
    async fn create(&self, order: &Order) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(order)))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", "id")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::AlreadyExists(order.id.clone()))
            }
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn get(&self, id: &str) -> Result<Option<Order>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        output.item.map(|item| from_item(id, &item)).transpose()
    }
}

fn unavailable<E, R>(error: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    StoreError::Unavailable(Box::new(error))
}

/// The item of an order.
fn to_item(order: &Order) -> HashMap<String, AttributeValue> {
    let items = order
        .items
        .iter()
        .map(|line| {
            AttributeValue::M(HashMap::from([
                ("sku".to_owned(), AttributeValue::S(line.sku.clone())),
                (
                    "quantity".to_owned(),
                    AttributeValue::N(line.quantity.to_string()),
                ),
            ]))
        })
        .collect();
    HashMap::from([
        ("id".to_owned(), AttributeValue::S(order.id.clone())),
        (
            "customer_email".to_owned(),
            AttributeValue::S(order.customer_email.clone()),
        ),
        ("items".to_owned(), AttributeValue::L(items)),
        (
            "created_at".to_owned(),
            AttributeValue::N(order.created_at.to_string()),
        ),
    ])
}

/// The order of an item.
fn from_item(id: &str, item: &HashMap<String, AttributeValue>) -> Result<Order, StoreError> {
    let invalid = |reason: String| StoreError::InvalidRecord {
        id: id.to_owned(),
        reason,
    };
    let string = |map: &HashMap<String, AttributeValue>, name: &str| match map.get(name) {
        Some(AttributeValue::S(value)) => Ok(value.clone()),
        Some(_) => Err(invalid(format!("`{name}` is not a string"))),
        None => Err(invalid(format!("`{name}` is missing"))),
    };
    let number = |map: &HashMap<String, AttributeValue>, name: &str| match map.get(name) {
        Some(AttributeValue::N(value)) => value
            .parse::<u64>()
            .map_err(|_| invalid(format!("`{name}` is not a whole number: {value}"))),
        Some(_) => Err(invalid(format!("`{name}` is not a number"))),
        None => Err(invalid(format!("`{name}` is missing"))),
    };
    let Some(AttributeValue::L(lines)) = item.get("items") else {
        return Err(invalid("`items` is not a list".to_owned()));
    };
    let items = lines
        .iter()
        .map(|line| {
            let AttributeValue::M(line) = line else {
                return Err(invalid("a line of `items` is not a map".to_owned()));
            };
            let quantity = number(line, "quantity")?;
            Ok(LineItem {
                sku: string(line, "sku")?,
                quantity: u32::try_from(quantity)
                    .map_err(|_| invalid(format!("`quantity` is too large: {quantity}")))?,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Order {
        id: string(item, "id")?,
        customer_email: string(item, "customer_email")?,
        items,
        created_at: number(item, "created_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_round_trips() {
        let order = Order::sample();
        assert_eq!(from_item("o-1001", &to_item(&order)).unwrap(), order);
    }

    #[test]
    fn an_item_that_is_not_an_order_is_refused() {
        let mut item = to_item(&Order::sample());
        item.insert(
            "created_at".to_owned(),
            AttributeValue::S("yesterday".into()),
        );
        assert_eq!(
            from_item("o-1001", &item).unwrap_err().to_string(),
            "the record of order o-1001 is not valid: `created_at` is not a number"
        );
    }
}
