//! Where orders are kept: the [`OrderStore`] trait, an in-memory store, and (feature
//! `dynamodb`) a DynamoDB table. Creating an order is one conditional write, so that two
//! requests with the same id never both create it.

use std::{
    collections::HashMap,
    future::Future,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
};

use crate::order::Order;

#[cfg(feature = "dynamodb")]
mod dynamodb;

#[cfg(feature = "dynamodb")]
pub use dynamodb::{DynamoDbStore, STORE_TIMEOUT};

/// An error the store's client returned.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The variable that makes the in-memory store fail every call, for trying how the API
/// answers when its store is down: `ORDERS_STORE_UNAVAILABLE=1`.
pub const UNAVAILABLE_VAR: &str = "ORDERS_STORE_UNAVAILABLE";

/// Why the store did not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// [`OrderStore::create`] of an order whose id is taken. The write was not made.
    #[error("order {0} already exists")]
    AlreadyExists(String),
    /// The store could not be reached, or refused the request.
    #[error("the order store is unavailable")]
    Unavailable(#[source] BoxError),
    /// A record in the store is not an order this function can read.
    #[error("the record of order {id} is not valid: {reason}")]
    InvalidRecord {
        /// The order's id.
        id: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A store of orders.
pub trait OrderStore: Send + Sync {
    /// Writes a new order; fails with [`StoreError::AlreadyExists`], writing nothing, when an
    /// order with its id exists.
    fn create(&self, order: &Order) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The order with this id, read consistently (an order just created is found).
    fn get(&self, id: &str) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send;
}

/// Orders kept in the process's memory: what the API uses when `ORDERS_TABLE` is not set, so
/// that it runs locally with no AWS account. Each process starts with [`Order::sample`] only,
/// and each function (`create-order`, `get-order`) has its own.
#[derive(Debug)]
pub struct MemoryStore {
    orders: Mutex<HashMap<String, Order>>,
    unavailable: AtomicBool,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// A store holding [`Order::sample`] (`o-1001`).
    pub fn new() -> Self {
        Self::with_orders([Order::sample()])
    }

    /// A store holding these orders.
    pub fn with_orders(orders: impl IntoIterator<Item = Order>) -> Self {
        Self {
            orders: Mutex::new(
                orders
                    .into_iter()
                    .map(|order| (order.id.clone(), order))
                    .collect(),
            ),
            unavailable: AtomicBool::new(false),
        }
    }

    /// Makes every call fail with [`StoreError::Unavailable`] (or work again), as a store
    /// that cannot be reached would: for tests, and for [`UNAVAILABLE_VAR`].
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::Relaxed);
    }

    /// Runs `change` on the orders, unless the store is made unavailable.
    fn with_map<T>(
        &self,
        change: impl FnOnce(&mut HashMap<String, Order>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.unavailable.load(Ordering::Relaxed) {
            return Err(StoreError::Unavailable(
                format!("the in-memory store is made unavailable ({UNAVAILABLE_VAR})").into(),
            ));
        }
        let mut orders = self.orders.lock().unwrap_or_else(PoisonError::into_inner);
        change(&mut orders)
    }
}

impl OrderStore for MemoryStore {
    async fn create(&self, order: &Order) -> Result<(), StoreError> {
        self.with_map(|orders| {
            if orders.contains_key(&order.id) {
                return Err(StoreError::AlreadyExists(order.id.clone()));
            }
            orders.insert(order.id.clone(), order.clone());
            Ok(())
        })
    }

    async fn get(&self, id: &str) -> Result<Option<Order>, StoreError> {
        self.with_map(|orders| Ok(orders.get(id).cloned()))
    }
}

/// The store the API uses: DynamoDB when `ORDERS_TABLE` is set, memory otherwise.
#[derive(Debug)]
#[non_exhaustive]
pub enum Store {
    /// Orders in memory.
    Memory(MemoryStore),
    /// Orders in a DynamoDB table.
    #[cfg(feature = "dynamodb")]
    DynamoDb(DynamoDbStore),
}

impl Store {
    /// The store the environment names: the DynamoDB table `ORDERS_TABLE` (with the AWS SDK's
    /// usual settings: region, credentials, `AWS_ENDPOINT_URL`), or memory when it is not set.
    ///
    /// Fails when `ORDERS_TABLE` is set but this build has no DynamoDB store (feature
    /// `dynamodb`), rather than keeping orders in memory where they would be lost; and when
    /// [`UNAVAILABLE_VAR`] is set to anything but `0` or `1`, or together with
    /// `ORDERS_TABLE`.
    pub async fn from_env() -> Result<Self, helve::ConfigError> {
        let table = std::env::var("ORDERS_TABLE").unwrap_or_default();
        let unavailable = match std::env::var(UNAVAILABLE_VAR).as_deref() {
            Err(_) | Ok("" | "0") => false,
            Ok("1") => true,
            Ok(_) => {
                return Err(helve::ConfigError::new(
                    UNAVAILABLE_VAR,
                    "must be 1 (the in-memory store fails every call) or 0",
                ));
            }
        };
        if table.trim().is_empty() {
            let store = MemoryStore::new();
            store.set_unavailable(unavailable);
            return Ok(Store::Memory(store));
        }
        if unavailable {
            return Err(helve::ConfigError::new(
                UNAVAILABLE_VAR,
                "only the in-memory store can be made unavailable; unset ORDERS_TABLE or this",
            ));
        }
        #[cfg(feature = "dynamodb")]
        {
            Ok(Store::DynamoDb(DynamoDbStore::from_env(table).await))
        }
        #[cfg(not(feature = "dynamodb"))]
        {
            Err(helve::ConfigError::new(
                "ORDERS_TABLE",
                format!(
                    "it names the table `{table}`, but this build has no DynamoDB store; build \
                     with `--features dynamodb`"
                ),
            ))
        }
    }

    /// `memory` or `dynamodb`, for the logs.
    pub fn name(&self) -> &'static str {
        match self {
            Store::Memory(_) => "memory",
            #[cfg(feature = "dynamodb")]
            Store::DynamoDb(_) => "dynamodb",
        }
    }
}

impl OrderStore for Store {
    async fn create(&self, order: &Order) -> Result<(), StoreError> {
        match self {
            Store::Memory(store) => store.create(order).await,
            #[cfg(feature = "dynamodb")]
            Store::DynamoDb(store) => store.create(order).await,
        }
    }

    async fn get(&self, id: &str) -> Result<Option<Order>, StoreError> {
        match self {
            Store::Memory(store) => store.get(id).await,
            #[cfg(feature = "dynamodb")]
            Store::DynamoDb(store) => store.get(id).await,
        }
    }
}
