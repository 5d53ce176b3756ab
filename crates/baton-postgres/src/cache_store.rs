//! The cluster's tag cache on PostgreSQL: one shared (unlogged) table, read through on every lookup, so an
//! invalidation that committed on one node is what every node's next read sees.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use baton_core::cache::{CacheBounds, CacheEntry, CacheStore, CacheUsage};
use baton_core::clock::Timestamp;
use baton_core::namespace::Namespace;
use baton_core::stored::encode;
use baton_core::{Error, StoreError};
use serde_json::value::RawValue;
use sqlx::postgres::PgRow;
use sqlx::{Row, query};

use crate::rows::store_error;
use crate::store::PgStore;

/// Rows of one multi-row write are cut so a statement stays under a new socket's send buffer (see
/// `event_tx::STATEMENT_BYTES`, chosen when sqlx left Nagle's algorithm on).
const STATEMENT_BYTES: usize = 12 * 1024;

fn entry(row: &PgRow) -> Result<CacheEntry, StoreError> {
    let text = |column: &str| row.try_get::<String, _>(column).map_err(store_error);
    let corrupt = |what: &str| StoreError::Internal(format!("stored cache {what} does not parse"));
    Ok(CacheEntry {
        namespace: Namespace::parse(&text("namespace")?).map_err(|_| corrupt("namespace"))?,
        key: text("key")?,
        value: RawValue::from_string(text("value")?).map_err(|_| corrupt("value"))?,
        tags: row.try_get("tags").map_err(store_error)?,
        created_at: Timestamp(row.try_get("created_at").map_err(store_error)?),
        expires_at: row.try_get::<Option<i64>, _>("expires_at").map_err(store_error)?.map(Timestamp),
    })
}

impl PgStore {
    async fn put_chunk(&self, namespace: &Namespace, entries: &[CacheEntry]) -> Result<(), Error> {
        let tags = entries.iter().map(|entry| encode(&entry.tags)).collect::<Result<Vec<_>, _>>()?;
        let statement = query(include_str!("../queries/cache/put_many.sql"))
            .bind(namespace.as_str())
            .bind(entries.iter().map(|entry| entry.key.as_str()).collect::<Vec<_>>())
            .bind(entries.iter().map(|entry| entry.value.get()).collect::<Vec<_>>())
            .bind(tags)
            .bind(entries.iter().map(|entry| entry.size() as i64).collect::<Vec<_>>())
            .bind(entries.iter().map(|entry| entry.created_at.as_millis()).collect::<Vec<_>>())
            .bind(entries.iter().map(|entry| entry.expires_at.map(Timestamp::as_millis)).collect::<Vec<_>>());
        self.conns.execute(statement).await?;
        Ok(())
    }
}

fn last_entry_per_key(entries: Vec<CacheEntry>) -> Vec<CacheEntry> {
    let mut seen = HashSet::new();
    let mut kept: Vec<CacheEntry> = entries.into_iter().rev().filter(|entry| seen.insert(entry.key.clone())).collect();
    kept.reverse();
    kept
}

#[async_trait]
impl CacheStore for PgStore {
    async fn get_entries(&self, namespace: &Namespace, keys: &[String]) -> Result<Vec<Option<CacheEntry>>, Error> {
        let statement = query(include_str!("../queries/cache/get_many.sql"))
            .bind(namespace.as_str())
            .bind(keys)
            .bind(self.test_now().map(Timestamp::as_millis));
        let found = self.conns.fetch_all(statement).await?;
        let entries = found.iter().map(entry).collect::<Result<Vec<_>, _>>()?;
        // A key asked for twice is found twice.
        let by_key: HashMap<&str, &CacheEntry> = entries.iter().map(|entry| (entry.key.as_str(), entry)).collect();
        Ok(keys.iter().map(|key| by_key.get(key.as_str()).map(|&entry| entry.clone())).collect())
    }

    async fn put_entries(&self, entries: Vec<CacheEntry>) -> Result<(), Error> {
        // A key given twice keeps its last entry, as one write after another would leave it: one upsert
        // statement cannot change a row twice.
        let entries = last_entry_per_key(entries);
        // Entries of one call share a namespace (one request's); cut by size for the send buffer.
        let Some(first) = entries.first() else { return Ok(()) };
        let namespace = first.namespace.clone();
        let mut chunk_start = 0;
        let mut bytes = 0;
        for (index, entry) in entries.iter().enumerate() {
            if index > chunk_start && bytes + entry.size() > STATEMENT_BYTES {
                self.put_chunk(&namespace, &entries[chunk_start..index]).await?;
                (chunk_start, bytes) = (index, 0);
            }
            bytes += entry.size() + 64;
        }
        self.put_chunk(&namespace, &entries[chunk_start..]).await
    }

    async fn delete_entry(&self, namespace: &Namespace, key: &str) -> Result<bool, Error> {
        let statement = query(include_str!("../queries/cache/delete.sql")).bind(namespace.as_str()).bind(key);
        let done = self.conns.execute(statement).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn invalidate_tags(&self, namespace: &Namespace, tags: &[String]) -> Result<(), Error> {
        let statement = query(include_str!("../queries/cache/invalidate.sql")).bind(namespace.as_str()).bind(tags);
        self.conns.execute(statement).await?;
        Ok(())
    }

    async fn cache_usage(&self) -> Result<CacheUsage, Error> {
        let statement =
            query(include_str!("../queries/cache/usage.sql")).bind(self.test_now().map(Timestamp::as_millis));
        let row = self.conns.fetch_one(statement).await?;
        let count =
            |column: &str| row.try_get::<i64, _>(column).map(|n| u64::try_from(n).unwrap_or(0)).map_err(store_error);
        Ok(CacheUsage {
            entries: count("entries")?,
            bytes: count("bytes")?,
            evictions: self.cache_evictions.load(Ordering::Relaxed),
        })
    }

    async fn trim_cache(&self, bounds: CacheBounds) -> Result<u64, Error> {
        let statement =
            query(include_str!("../queries/cache/trim_expired.sql")).bind(self.test_now().map(Timestamp::as_millis));
        self.conns.execute(statement).await?;
        let usage = self.cache_usage().await?;
        if usage.entries <= bounds.max_entries && usage.bytes <= bounds.max_bytes {
            return Ok(0);
        }
        let limit = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        let statement = query(include_str!("../queries/cache/trim_oldest.sql"))
            .bind(limit(bounds.max_entries))
            .bind(limit(bounds.max_bytes));
        let done = self.conns.execute(statement).await?;
        self.cache_evictions.fetch_add(done.rows_affected(), Ordering::Relaxed);
        Ok(done.rows_affected())
    }
}
