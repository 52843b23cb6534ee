//! Which key made each stored response. The Responses API keeps a response in the account of the
//! key that made it (`store`, on by default), and a follow-up that names it
//! (`previous_response_id`) can only be answered by that account: any other key's upstream has
//! never seen it. This map lets the call loop send the follow-up to the same key.
//!
//! Bounded (the oldest entries are forgotten first) and expiring (OpenAI keeps a stored response
//! for 30 days). Ids are kept as keyed hashes, so an entry costs the same few dozen bytes
//! whatever the id's length, and nothing a client sends can be read back from it. Time is a
//! parameter.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

/// How long a response's owner is remembered: as long as OpenAI keeps a stored response.
pub const RESPONSE_OWNER_TTL_MS: i64 = 30 * 24 * 60 * 60 * 1000;
/// Responses remembered at most (a few MB at worst).
pub const MAX_RESPONSE_OWNERS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Owner {
    key_id: i32,
    at_ms: i64,
}

#[derive(Debug, Default)]
struct Owners {
    by_id: HashMap<u64, Owner>,
    /// Every remembered id in the order it was remembered, with when: the eviction queue. An id
    /// remembered twice is here twice; only the entry matching `by_id` evicts it.
    order: VecDeque<(u64, i64)>,
}

/// Response id -> the key whose account holds it. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct ResponseOwners {
    owners: Arc<Mutex<Owners>>,
    hasher: RandomState,
    capacity: usize,
    ttl_ms: i64,
}

impl Default for ResponseOwners {
    fn default() -> Self {
        Self::new(MAX_RESPONSE_OWNERS, RESPONSE_OWNER_TTL_MS)
    }
}

impl ResponseOwners {
    pub fn new(capacity: usize, ttl_ms: i64) -> Self {
        Self {
            owners: Arc::default(),
            hasher: RandomState::new(),
            capacity: capacity.max(1),
            ttl_ms,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Owners> {
        self.owners
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `key_id` made (and its account stores) `response_id`.
    pub fn remember(&self, response_id: &str, key_id: i32, now_ms: i64) {
        let hash = self.hasher.hash_one(response_id);
        let mut owners = self.lock();
        owners.by_id.insert(
            hash,
            Owner {
                key_id,
                at_ms: now_ms,
            },
        );
        owners.order.push_back((hash, now_ms));
        let expired_before = now_ms - self.ttl_ms;
        while let Some(&(oldest, at_ms)) = owners.order.front() {
            if owners.order.len() <= self.capacity && at_ms > expired_before {
                break;
            }
            owners.order.pop_front();
            if owners.by_id.get(&oldest).is_some_and(|o| o.at_ms == at_ms) {
                owners.by_id.remove(&oldest);
            }
        }
    }

    /// The key that made `response_id`, if it is remembered and not expired.
    pub fn owner(&self, response_id: &str, now_ms: i64) -> Option<i32> {
        let hash = self.hasher.hash_one(response_id);
        self.lock()
            .by_id
            .get(&hash)
            .filter(|o| o.at_ms > now_ms - self.ttl_ms)
            .map(|o| o.key_id)
    }

    /// Responses remembered now (expired ones included until they are evicted).
    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_found_until_they_expire() {
        let owners = ResponseOwners::new(10, 1_000);
        owners.remember("resp_a", 7, 100);
        assert_eq!(owners.owner("resp_a", 100), Some(7));
        assert_eq!(owners.owner("resp_a", 1_099), Some(7));
        assert_eq!(owners.owner("resp_a", 1_100), None, "expired");
        assert_eq!(owners.owner("resp_b", 100), None);
        // A later insertion evicts what has expired.
        owners.remember("resp_b", 8, 2_000);
        assert_eq!(owners.len(), 1);
    }

    #[test]
    fn the_oldest_are_forgotten_beyond_capacity() {
        let owners = ResponseOwners::new(3, i64::MAX / 2);
        for (i, id) in ["r1", "r2", "r3", "r4"].into_iter().enumerate() {
            owners.remember(id, i as i32, i as i64);
        }
        assert_eq!(owners.len(), 3);
        assert_eq!(owners.owner("r1", 10), None);
        assert_eq!(owners.owner("r4", 10), Some(3));
    }

    #[test]
    fn remembering_again_refreshes_the_entry() {
        let owners = ResponseOwners::new(2, 1_000);
        owners.remember("r1", 1, 0);
        owners.remember("r2", 2, 10);
        // r1 again, now owned by key 5: its first queue entry must not evict the new one.
        owners.remember("r1", 5, 20);
        assert_eq!(owners.owner("r1", 30), Some(5));
        assert_eq!(owners.owner("r2", 30), Some(2));
        owners.remember("r3", 3, 40);
        assert_eq!(owners.owner("r1", 50), Some(5), "the refreshed entry stays");
        assert_eq!(owners.owner("r2", 50), None, "the oldest live entry goes");
        assert_eq!(owners.owner("r3", 50), Some(3));
    }
}
