//! An idempotent handler: [`Function::idempotency`](crate::Function::idempotency) wraps the
//! handler so that each invocation runs through [`Idempotency::once`].

use std::{fmt, future::Future, pin::Pin, sync::Arc};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{
    Context,
    context::{EventKeys, ReadKeys},
    handler::{FallbackAnswer, Handler, short_type_name},
};

use super::{IdempotencyError, config::Idempotency};

/// How an idempotent handler finds its key: at a JSON pointer into the raw event
/// ([`AtPointer`]), or with a function of the decoded event (`Fn(&T) -> Option<Value>`).
pub trait KeyOf<T>: Clone + Send + Sync + 'static {
    /// The key value of `event`; `read` is what the raw event held at the key pointer.
    fn key_of(&self, event: &T, read: Option<Value>) -> Value;

    /// Whether the key is configured right, checked when the function starts.
    fn check(&self) -> Result<(), crate::ConfigError> {
        Ok(())
    }
}

/// The key is the value at the JSON pointer given to
/// [`Function::idempotency`](crate::Function::idempotency), read from the raw event.
#[derive(Debug, Clone, Copy, Default)]
pub struct AtPointer;

impl<T> KeyOf<T> for AtPointer {
    fn key_of(&self, _event: &T, read: Option<Value>) -> Value {
        read.unwrap_or(Value::Null)
    }
}

impl<T, F> KeyOf<T> for F
where
    F: Fn(&T) -> Option<Value> + Clone + Send + Sync + 'static,
{
    fn key_of(&self, event: &T, _read: Option<Value>) -> Value {
        self(event).unwrap_or(Value::Null)
    }
}

/// A handler that runs once per idempotency key: see
/// [`Function::idempotency`](crate::Function::idempotency).
#[derive(Clone)]
pub struct Idempotent<H, K> {
    handler: H,
    idempotency: Arc<Idempotency>,
    key: K,
    pointers: EventKeys,
}

impl<H, K> fmt::Debug for Idempotent<H, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idempotent")
            .field("handler", &std::any::type_name::<H>())
            .field("idempotency", &self.idempotency)
            .field("pointers", &self.pointers)
            .finish_non_exhaustive()
    }
}

impl<H, K> Idempotent<H, K> {
    /// `handler`, run once per key: the key found with `key` (or at `key_pointer` in the raw
    /// event), the prefix defaulting to the function's name and the handler's.
    pub(crate) fn new(
        handler: H,
        idempotency: Idempotency,
        key: K,
        key_pointer: Option<String>,
    ) -> Self {
        let pointers = EventKeys {
            key: key_pointer,
            validation: idempotency.payload_validation.clone(),
        };
        Self {
            handler,
            idempotency: Arc::new(idempotency.named(short_type_name::<H>())),
            key,
            pointers,
        }
    }
}

/// The future of an idempotent handler.
pub type IdempotentFuture<R, E> =
    Pin<Box<dyn Future<Output = Result<R, IdempotencyError<E>>> + Send + 'static>>;

impl<H, K, T, S, M> Handler<T, S, M> for Idempotent<H, K>
where
    H: Handler<T, S, M>,
    H::Response: DeserializeOwned,
    K: KeyOf<T>,
    T: Send + 'static,
    S: Sync + 'static,
{
    type Response = H::Response;
    type Error = IdempotencyError<H::Error>;
    type Future = IdempotentFuture<H::Response, H::Error>;

    const RESPONSE_SERIALIZES: bool = H::RESPONSE_SERIALIZES;

    fn call(&self, event: T, context: Context, state: &'static S) -> Self::Future {
        let ReadKeys { key, validated } = context.state().take_event_keys().unwrap_or_default();
        let key = self.key.key_of(&event, key);
        let idempotency = Arc::clone(&self.idempotency);
        let handler = self.handler.clone();
        Box::pin(async move {
            let run = move || handler.call(event, context, state);
            idempotency.run(&key, validated.as_ref(), run).await
        })
    }

    fn fallback_answer(&self) -> Option<FallbackAnswer> {
        self.handler.fallback_answer()
    }

    fn check(&self, event: &T, context: &Context) -> Result<(), lambda_runtime::Diagnostic> {
        self.handler.check(event, context)
    }

    fn keeps_raw_event(&self) -> bool {
        self.handler.keeps_raw_event()
    }

    fn check_idempotency(&self) -> Result<(), crate::ConfigError> {
        self.key.check()?;
        self.event_keys().as_ref().map_or(Ok(()), EventKeys::check)
    }

    /// The pointers, when there is one: without, the raw event is not parsed at all.
    fn event_keys(&self) -> Option<EventKeys> {
        let pointers = &self.pointers;
        (pointers.key.is_some() || pointers.validation.is_some()).then(|| pointers.clone())
    }
}
