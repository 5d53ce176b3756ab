//! The cache nouns: an entry (a key, its JSON value as the client sent it, its tags and expiry), what a lookup
//! finds, and the usage a cache reports.

use serde_json::value::RawValue;

use crate::clock::Timestamp;
use crate::namespace::Namespace;

#[derive(Clone, Debug)]
pub struct CacheEntry {
    pub namespace: Namespace,
    pub key: String,
    pub value: Box<RawValue>,
    pub tags: Vec<String>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

impl CacheEntry {
    /// What the entry weighs against the byte limit: its key, value and tags.
    pub fn size(&self) -> usize {
        self.key.len() + self.value.get().len() + self.tags.iter().map(String::len).sum::<usize>()
    }

    pub fn has_any_tag(&self, tags: &[String]) -> bool {
        self.tags.iter().any(|tag| tags.contains(tag))
    }
}

/// What a read found. On a miss the caller may have been handed the fill lease (`fill_token`: compute the value
/// and set it with that token), or learn that another caller is filling it right now.
#[derive(Clone, Debug)]
pub enum CacheLookup {
    Hit(CacheEntry),
    Miss { fill_token: Option<String>, filling: bool },
}

/// How full a cache is, and what it evicted (for its size limits) since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheUsage {
    pub entries: u64,
    pub bytes: u64,
    pub evictions: u64,
}

/// A cache's size limits: both hold, and the least valuable entries go first when either is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheBounds {
    pub max_entries: u64,
    pub max_bytes: u64,
}
