//! The tag cache through the REST API.

use std::time::Duration;

use baton_api::cache::{
    BulkGetRequest, BulkGetResponse, BulkSetEntry, BulkSetRequest, BulkSetResponse, CacheEntryView, CacheSetRequest,
    CacheSetResponse, CacheStatsView, InvalidateRequest, InvalidateResponse,
};
use reqwest::Method;
use serde_json::Value;

use crate::{BatonClient, ClientError};

/// What a read that may take the fill lease found.
#[derive(Clone, Debug)]
pub enum CacheRead {
    Hit(CacheEntryView),
    /// A miss, and this caller holds the fill lease: compute the value and set it with this token.
    Fill {
        fill_token: String,
    },
    /// A miss while another caller fills it (and the wait, if any, ran out).
    Filling,
    /// A plain miss.
    Miss,
}

impl BatonClient {
    /// The entry, or `None` on a miss.
    pub async fn cache_get(&self, key: &str) -> Result<Option<CacheEntryView>, ClientError> {
        match self.cache_read(key, &[]).await? {
            CacheRead::Hit(entry) => Ok(Some(entry)),
            _ => Ok(None),
        }
    }

    /// Reads `key`; on a miss takes its fill lease for `lease`, or waits up to `wait` for another caller's fill.
    pub async fn cache_get_or_fill(
        &self,
        key: &str,
        lease: Duration,
        wait: Option<Duration>,
    ) -> Result<CacheRead, ClientError> {
        let mut query = vec![("fill_lease_seconds", lease.as_secs().max(1).to_string())];
        query.extend(wait.map(|wait| ("wait_ms", wait.as_millis().to_string())));
        self.cache_read(key, &query).await
    }

    async fn cache_read(&self, key: &str, query: &[(&str, String)]) -> Result<CacheRead, ClientError> {
        let wait = query.iter().find(|(name, _)| *name == "wait_ms").and_then(|(_, ms)| ms.parse().ok()).unwrap_or(0);
        let builder = self
            .request(Method::GET, &["api", "v1", "cache", key])
            .query(query)
            .timeout(Duration::from_millis(wait) + Duration::from_secs(30));
        match self.send(builder).await {
            Ok(entry) => Ok(CacheRead::Hit(entry)),
            Err(ClientError::Api { code, details, .. }) if code == "CACHE_MISS" => {
                Ok(match (details["fill_token"].as_str(), details["filling"].as_bool()) {
                    (Some(token), _) => CacheRead::Fill { fill_token: token.to_owned() },
                    (None, Some(true)) => CacheRead::Filling,
                    _ => CacheRead::Miss,
                })
            }
            Err(other) => Err(other),
        }
    }

    pub async fn cache_set(&self, key: &str, request: &CacheSetRequest) -> Result<CacheSetResponse, ClientError> {
        self.send(self.request(Method::PUT, &["api", "v1", "cache", key]).json(request)).await
    }

    /// Stores a value from its JSON form.
    pub async fn cache_put(
        &self,
        key: &str,
        value: &Value,
        ttl_seconds: Option<i64>,
        tags: Vec<String>,
    ) -> Result<CacheSetResponse, ClientError> {
        let value = serde_json::value::to_raw_value(value).expect("a JSON value serialises");
        let request = CacheSetRequest { value, ttl_seconds, tags, fill_token: None, namespace: None };
        self.cache_set(key, &request).await
    }

    pub async fn cache_delete(&self, key: &str) -> Result<bool, ClientError> {
        let answer: Value = self.send(self.request(Method::DELETE, &["api", "v1", "cache", key])).await?;
        Ok(answer["deleted"].as_bool().unwrap_or(false))
    }

    pub async fn cache_bulk_get(&self, keys: Vec<String>) -> Result<BulkGetResponse, ClientError> {
        let body = BulkGetRequest { keys, namespace: None };
        self.send(self.request(Method::POST, &["api", "v1", "cache", "bulk-get"]).json(&body)).await
    }

    pub async fn cache_bulk_set(&self, entries: Vec<BulkSetEntry>) -> Result<BulkSetResponse, ClientError> {
        let body = BulkSetRequest { entries, namespace: None };
        self.send(self.request(Method::POST, &["api", "v1", "cache", "bulk-set"]).json(&body)).await
    }

    pub async fn cache_invalidate(&self, tags: Vec<String>) -> Result<InvalidateResponse, ClientError> {
        let body = InvalidateRequest { tags, namespace: None };
        self.send(self.request(Method::POST, &["api", "v1", "cache", "invalidate"]).json(&body)).await
    }

    pub async fn cache_stats(&self) -> Result<CacheStatsView, ClientError> {
        self.send(self.request(Method::GET, &["api", "v1", "cache", "stats"])).await
    }
}
