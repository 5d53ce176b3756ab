//! The cache behaviours every cache backend must show: reads, TTLs, deletes, invalidation by tag that holds at
//! once, bulk reads in order, and the size bounds.

use std::time::Duration;

use baton_core::cache::{CacheBounds, CacheEntry, CacheStore};
use baton_core::namespace::Namespace;
use serde_json::value::RawValue;

use crate::harness::{Harness, ROOMY};

fn ns() -> Namespace {
    Namespace::default()
}

fn entry(h: &Harness, key: &str, tags: &[&str], ttl: Option<Duration>) -> CacheEntry {
    let now = h.clock_now();
    CacheEntry {
        namespace: ns(),
        key: key.into(),
        value: RawValue::from_string(format!(r#"{{"key": "{key}"}}"#)).expect("json"),
        tags: tags.iter().map(|tag| (*tag).to_owned()).collect(),
        created_at: now,
        expires_at: ttl.map(|ttl| now.plus(ttl)),
    }
}

async fn get(cache: &dyn CacheStore, key: &str) -> Option<String> {
    let found = cache.get_entries(&ns(), &[key.to_owned()]).await.expect("get").pop().flatten();
    found.map(|entry| entry.value.get().to_owned())
}

pub async fn cache_entries_are_read_replaced_deleted_and_expire(h: &Harness) {
    let cache = h.cache(ROOMY);
    assert_eq!(get(cache.as_ref(), "k").await, None);
    cache.put_entries(vec![entry(h, "k", &[], Some(Duration::from_secs(10)))]).await.unwrap();
    assert_eq!(get(cache.as_ref(), "k").await.as_deref(), Some(r#"{"key": "k"}"#));
    let mut replaced = entry(h, "k", &["t"], None);
    replaced.value = RawValue::from_string("[1, 2]".into()).unwrap();
    cache.put_entries(vec![replaced]).await.unwrap();
    assert_eq!(get(cache.as_ref(), "k").await.as_deref(), Some("[1, 2]"));
    assert!(cache.delete_entry(&ns(), "k").await.unwrap());
    assert!(!cache.delete_entry(&ns(), "k").await.unwrap());
    cache.put_entries(vec![entry(h, "short", &[], Some(Duration::from_secs(5)))]).await.unwrap();
    h.advance(Duration::from_secs(6));
    assert_eq!(get(cache.as_ref(), "short").await, None, "expired by the cache's clock");
    let other = Namespace::parse("other").unwrap();
    cache.put_entries(vec![entry(h, "shared-name", &[], None)]).await.unwrap();
    assert!(cache.get_entries(&other, &["shared-name".into()]).await.unwrap()[0].is_none(), "namespaces isolate");
}

pub async fn an_invalidated_tag_is_never_read_again(h: &Harness) {
    let cache = h.cache(ROOMY);
    cache
        .put_entries(vec![
            entry(h, "user:1", &["user", "team:a"], None),
            entry(h, "user:2", &["user"], None),
            entry(h, "team:a", &["team:a"], None),
            entry(h, "config", &["config"], None),
        ])
        .await
        .unwrap();
    let other = CacheEntry { namespace: Namespace::parse("other").unwrap(), ..entry(h, "user:9", &["user"], None) };
    cache.put_entries(vec![other]).await.unwrap();
    cache.invalidate_tags(&ns(), &["team:a".into()]).await.unwrap();
    // At once, with no pass of any duty in between.
    assert_eq!(get(cache.as_ref(), "user:1").await, None);
    assert_eq!(get(cache.as_ref(), "team:a").await, None);
    assert!(get(cache.as_ref(), "user:2").await.is_some());
    cache.invalidate_tags(&ns(), &["user".into(), "nothing".into()]).await.unwrap();
    assert_eq!(get(cache.as_ref(), "user:2").await, None);
    assert!(get(cache.as_ref(), "config").await.is_some());
    let elsewhere = cache.get_entries(&Namespace::parse("other").unwrap(), &["user:9".into()]).await.unwrap();
    assert!(elsewhere[0].is_some(), "an invalidation stays in its namespace");
    // A value set again after the invalidation is a new value.
    cache.put_entries(vec![entry(h, "user:1", &["team:a"], None)]).await.unwrap();
    assert!(get(cache.as_ref(), "user:1").await.is_some());
}

pub async fn bulk_reads_answer_in_order_and_usage_counts_live_entries(h: &Harness) {
    let cache = h.cache(ROOMY);
    cache.put_entries(vec![entry(h, "a", &["x"], None), entry(h, "c", &[], None)]).await.unwrap();
    let keys: Vec<String> = ["c", "b", "a"].iter().map(|k| (*k).to_owned()).collect();
    let found = cache.get_entries(&ns(), &keys).await.unwrap();
    let found: Vec<Option<String>> = found.into_iter().map(|entry| entry.map(|entry| entry.key)).collect();
    assert_eq!(found, vec![Some("c".into()), None, Some("a".into())]);
    let usage = cache.cache_usage().await.unwrap();
    assert_eq!(usage.entries, 2);
    let expected_bytes = (entry(h, "a", &["x"], None).size() + entry(h, "c", &[], None).size()) as u64;
    assert_eq!(usage.bytes, expected_bytes);
}

pub async fn a_key_named_twice_in_one_call_is_written_last_wins_and_found_twice(h: &Harness) {
    let cache = h.cache(ROOMY);
    let mut second = entry(h, "twice", &["later"], None);
    second.value = RawValue::from_string("2".into()).unwrap();
    cache.put_entries(vec![entry(h, "twice", &["earlier"], None), entry(h, "once", &[], None), second]).await.unwrap();
    assert_eq!(get(cache.as_ref(), "twice").await.as_deref(), Some("2"));
    let keys: Vec<String> = ["twice", "once", "twice"].iter().map(|k| (*k).to_owned()).collect();
    let found = cache.get_entries(&ns(), &keys).await.unwrap();
    let found: Vec<Option<String>> =
        found.into_iter().map(|entry| entry.map(|entry| entry.value.get().to_owned())).collect();
    assert_eq!(found, vec![Some("2".into()), Some(r#"{"key": "once"}"#.into()), Some("2".into())]);
    cache.invalidate_tags(&ns(), &["earlier".to_owned()]).await.unwrap();
    assert_eq!(get(cache.as_ref(), "twice").await.as_deref(), Some("2"), "the last write's tags, not the first's");
}

pub async fn the_cache_stays_within_its_bounds(h: &Harness) {
    let bounds = CacheBounds { max_entries: 10, max_bytes: 64 * 1024 * 1024 };
    let cache = h.cache(bounds);
    for batch in 0..5 {
        let entries = (0..10).map(|n| entry(h, &format!("k{batch}-{n}"), &[], None)).collect();
        cache.put_entries(entries).await.unwrap();
        h.advance(Duration::from_millis(10));
    }
    let evicted = cache.trim_cache(bounds).await.unwrap();
    let usage = cache.cache_usage().await.unwrap();
    assert!(usage.entries <= 10, "{usage:?}");
    assert!(evicted >= 40 && usage.evictions >= 40, "evicted {evicted}, {usage:?}");
    let by_bytes = CacheBounds { max_entries: 1_000, max_bytes: 2 * entry(h, "k9-9", &[], None).size() as u64 };
    let cache = h.cache(by_bytes);
    cache.put_entries((0..5).map(|n| entry(h, &format!("b{n}"), &[], None)).collect()).await.unwrap();
    cache.trim_cache(by_bytes).await.unwrap();
    assert!(cache.cache_usage().await.unwrap().bytes <= by_bytes.max_bytes);
}
