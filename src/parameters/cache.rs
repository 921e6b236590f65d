//! The cache of values read, per name and type, with one read shared by every caller asking
//! for the same one at the same time.

use std::{
    any::{Any, TypeId},
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::time::Instant;

use crate::{context::lock, error::ParameterError};

/// The most names a cache keeps; a new name past that forgets the one read least recently
/// (that no caller is reading), so that a function reading a name per tenant or per request
/// does not grow without end.
pub const MAX_CACHED_NAMES: usize = 1024;

/// Values of one service (or one kind of read), by name, then by the type they were read as.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    entries: Mutex<HashMap<Box<str>, Vec<Slot>>>,
}

#[derive(Debug)]
struct Slot {
    type_id: TypeId,
    value: Option<Cached>,
    /// How many times the value was read: a forced read that waited for another caller's
    /// read uses it when this grew meanwhile.
    generation: u64,
    /// Held by the one caller reading the value; the others wait for it, then find the value.
    reading: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug)]
struct Cached {
    value: Arc<dyn Any + Send + Sync>,
    /// When the read that gave the value began: its age, and what a forced read may take.
    read_at: Instant,
}

impl Cache {
    /// The value of `key` as a `T`: from the cache when it is younger than `max_age` (and, with
    /// `force`, was read since this call began), else from `read`, whose value is then cached.
    /// A `max_age` of zero caches nothing. An error (or a value that did not convert) is not
    /// cached.
    pub(crate) async fn get<T, F, Fut>(
        &self,
        key: &str,
        max_age: Duration,
        force: bool,
        read: F,
    ) -> Result<Arc<T>, ParameterError>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, ParameterError>>,
    {
        if max_age.is_zero() {
            return read().await.map(Arc::new);
        }
        let asked = Instant::now();
        if !force && let Some(value) = self.fresh::<T>(key, max_age, None) {
            return Ok(value);
        }
        let (reading, generation) = self.reading::<T>(key);
        let _reading = reading.lock().await;
        // Another caller may have read it while this one waited: a forced read takes only a
        // read that began after it was asked for.
        let since = force.then_some((generation, asked));
        if let Some(value) = self.fresh::<T>(key, max_age, since) {
            return Ok(value);
        }
        let began = Instant::now();
        let value = Arc::new(read().await?);
        self.put_read_at(key, Arc::clone(&value), began);
        Ok(value)
    }

    /// The cached value, when it is younger than `max_age` (and, with `since`, was read
    /// again after the slot's generation was `since.0`, by a read that began at or after
    /// `since.1`). Allocates nothing.
    pub(crate) fn fresh<T: Send + Sync + 'static>(
        &self,
        key: &str,
        max_age: Duration,
        since: Option<(u64, Instant)>,
    ) -> Option<Arc<T>> {
        let entries = lock(&self.entries);
        let slot = entries
            .get(key)?
            .iter()
            .find(|slot| slot.type_id == TypeId::of::<T>())?;
        let cached = slot.value.as_ref()?;
        let young = Instant::now().saturating_duration_since(cached.read_at) < max_age;
        let recent = since.is_none_or(|(generation, asked)| {
            slot.generation > generation && cached.read_at >= asked
        });
        if young && recent {
            Arc::clone(&cached.value).downcast::<T>().ok()
        } else {
            None
        }
    }

    /// Caches `value` as the value of `key` for its type, read now.
    pub(crate) fn put<T: Send + Sync + 'static>(&self, key: &str, value: Arc<T>) {
        self.put_read_at(key, value, Instant::now());
    }

    /// Caches `value`, read by a read that began at `read_at`.
    fn put_read_at<T: Send + Sync + 'static>(&self, key: &str, value: Arc<T>, read_at: Instant) {
        let mut entries = lock(&self.entries);
        let slot = slot::<T>(&mut entries, key);
        slot.value = Some(Cached { value, read_at });
        slot.generation += 1;
    }

    /// The lock of the one caller reading `key` as a `T`, and the slot's generation now.
    fn reading<T: 'static>(&self, key: &str) -> (Arc<tokio::sync::Mutex<()>>, u64) {
        let mut entries = lock(&self.entries);
        let slot = slot::<T>(&mut entries, key);
        (Arc::clone(&slot.reading), slot.generation)
    }
}

fn slot<'a, T: 'static>(entries: &'a mut HashMap<Box<str>, Vec<Slot>>, key: &str) -> &'a mut Slot {
    if entries.len() >= MAX_CACHED_NAMES && !entries.contains_key(key) {
        forget_least_recent(entries);
    }
    let slots = entries.entry(Box::from(key)).or_default();
    let type_id = TypeId::of::<T>();
    let index = match slots.iter().position(|slot| slot.type_id == type_id) {
        Some(index) => index,
        None => {
            slots.push(Slot {
                type_id,
                value: None,
                generation: 0,
                reading: Arc::default(),
            });
            slots.len() - 1
        }
    };
    &mut slots[index]
}

/// Forgets the name whose newest value was read longest ago (a name with no value first),
/// leaving the names a caller is reading.
fn forget_least_recent(entries: &mut HashMap<Box<str>, Vec<Slot>>) {
    let idle = |slots: &Vec<Slot>| {
        slots
            .iter()
            .all(|slot| Arc::strong_count(&slot.reading) == 1)
    };
    let newest = |slots: &Vec<Slot>| {
        slots
            .iter()
            .filter_map(|slot| slot.value.as_ref().map(|cached| cached.read_at))
            .max()
    };
    let oldest = entries
        .iter()
        .filter(|(_, slots)| idle(slots))
        .min_by_key(|(_, slots)| newest(slots))
        .map(|(name, _)| name.clone());
    if let Some(name) = oldest {
        entries.remove(&name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_name_past_the_limit_forgets_the_one_read_least_recently() {
        let cache = Cache::default();
        let hour = Duration::from_secs(3600);
        for index in 0..MAX_CACHED_NAMES {
            cache.put(&format!("/tenants/{index}"), Arc::new(index));
            tokio::time::advance(Duration::from_millis(1)).await;
        }
        // The first name, read again, is the most recent now.
        cache.put("/tenants/0", Arc::new(0_usize));
        cache.put("/tenants/new", Arc::new(usize::MAX));
        assert_eq!(lock(&cache.entries).len(), MAX_CACHED_NAMES);
        assert!(cache.fresh::<usize>("/tenants/1", hour, None).is_none());
        assert_eq!(
            cache.fresh::<usize>("/tenants/0", hour, None).as_deref(),
            Some(&0)
        );
        assert_eq!(
            cache.fresh::<usize>("/tenants/2", hour, None).as_deref(),
            Some(&2)
        );
        assert_eq!(
            cache.fresh::<usize>("/tenants/new", hour, None).as_deref(),
            Some(&usize::MAX)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_name_being_read_is_not_forgotten() {
        let cache = Cache::default();
        let (reading, _) = cache.reading::<usize>("/being/read");
        let _held = reading.lock().await;
        tokio::time::advance(Duration::from_millis(1)).await;
        for index in 0..MAX_CACHED_NAMES {
            cache.put(&format!("/tenants/{index}"), Arc::new(index));
        }
        let entries = lock(&cache.entries);
        assert_eq!(entries.len(), MAX_CACHED_NAMES);
        assert!(entries.contains_key("/being/read"));
    }
}
