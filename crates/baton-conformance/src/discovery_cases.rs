//! The discovery behaviours every backend must show: registration (idempotent by id), the modify index,
//! TTL lapses, deregistration after a critical spell, check results, filters, listings and the change feed.

use std::time::Duration;

use baton_core::Error;
use baton_core::discovery::{
    AWAITING_FIRST_CHECK, CheckOutcome, DueChecks, Health, HealthCheck, InstanceKey, ListInstancesParams,
    ListServicesParams, RegisterParams, ServiceInstances, TTL_LAPSED,
};
use baton_core::namespace::Namespace;
use baton_core::store::Change;
use serde_json::json;

use crate::harness::Harness;

const SECOND: Duration = Duration::from_secs(1);

fn ns() -> Namespace {
    Namespace::default()
}

fn ttl_instance(service: &str, id: &str, ttl_seconds: i64) -> RegisterParams {
    RegisterParams {
        namespace: ns(),
        service: service.into(),
        instance_id: id.into(),
        address: "10.0.0.1".into(),
        port: 8080,
        tags: vec!["v1".into()],
        metadata: Some(json!({"zone": "a"})),
        check: HealthCheck::Ttl { ttl_ms: ttl_seconds * 1000 },
        deregister_after_ms: None,
    }
}

fn http_check() -> HealthCheck {
    HealthCheck::Http {
        url: "http://10.0.0.2:8080/health".into(),
        method: "GET".into(),
        interval_ms: 10_000,
        timeout_ms: 2_000,
    }
}

fn key(service: &str, id: &str) -> InstanceKey {
    InstanceKey { namespace: ns(), service: service.into(), instance_id: id.into() }
}

fn list(service: &str) -> ListInstancesParams {
    ListInstancesParams {
        namespace: ns(),
        service: service.into(),
        healthy_only: false,
        tags: Vec::new(),
        after: None,
        limit: 100,
    }
}

fn ids(found: &ServiceInstances) -> Vec<(&str, Health)> {
    found.instances.iter().map(|i| (i.instance_id.as_str(), i.health)).collect()
}

async fn index_of(h: &Harness, service: &str) -> i64 {
    h.store.service_instances(list(service)).await.unwrap().index
}

pub async fn instances_register_update_and_deregister_moving_the_index(h: &Harness) {
    assert_eq!(index_of(h, "web").await, 0, "a service never written is at index 0");
    let first = h.store.register_instance(ttl_instance("web", "web-1", 10)).await.unwrap();
    assert!(first.created);
    assert_eq!((first.instance.health, first.instance.modify_index), (Health::Passing, 1));
    assert_eq!(first.instance.expires_at, Some(h.clock_now().plus(10 * SECOND)));
    // The same definition again changes nothing readers see, and renews the TTL.
    h.advance(5 * SECOND);
    let again = h.store.register_instance(ttl_instance("web", "web-1", 10)).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.instance.modify_index, 1);
    assert_eq!(again.instance.expires_at, Some(h.clock_now().plus(10 * SECOND)));
    assert_eq!(index_of(h, "web").await, 1);
    // A changed definition is an update, with a new index.
    let retagged = RegisterParams { tags: vec!["v2".into()], ..ttl_instance("web", "web-1", 10) };
    let updated = h.store.register_instance(retagged).await.unwrap();
    assert_eq!((updated.created, updated.instance.modify_index), (false, 2));
    assert_eq!(updated.instance.registered_at, first.instance.registered_at);
    h.store.register_instance(ttl_instance("web", "web-2", 10)).await.unwrap();
    let found = h.store.service_instances(list("web")).await.unwrap();
    assert_eq!((found.index, ids(&found)), (3, vec![("web-1", Health::Passing), ("web-2", Health::Passing)]));
    assert_eq!(found.instances[0].tags, vec!["v2".to_owned()]);
    assert_eq!(found.instances[0].metadata, Some(json!({"zone": "a"})));
    let gone = h.store.deregister_instance(key("web", "web-1")).await.unwrap();
    assert_eq!(gone.instance_id, "web-1");
    assert_eq!(index_of(h, "web").await, 4);
    assert!(matches!(h.store.deregister_instance(key("web", "web-1")).await, Err(Error::InstanceNotFound { .. })));
    assert!(matches!(h.store.get_instance(key("web", "web-1")).await, Err(Error::InstanceNotFound { .. })));
    // The index survives the last instance leaving: it only ever grows.
    h.store.deregister_instance(key("web", "web-2")).await.unwrap();
    let back = h.store.register_instance(ttl_instance("web", "web-1", 10)).await.unwrap();
    assert_eq!(back.instance.modify_index, 6);
    // Another namespace is another set of services.
    let elsewhere =
        RegisterParams { namespace: Namespace::parse("other").unwrap(), ..ttl_instance("web", "web-1", 10) };
    assert_eq!(h.store.register_instance(elsewhere).await.unwrap().instance.modify_index, 1);
}

pub async fn a_lapsed_ttl_is_critical_at_once_and_announced_by_the_sweep(h: &Harness) {
    let mut changes = h.store.changes();
    h.store.register_instance(ttl_instance("api", "api-1", 10)).await.unwrap();
    h.store.register_instance(ttl_instance("api", "api-2", 30)).await.unwrap();
    h.advance(11 * SECOND);
    // Readers see the lapse before the sweep records it.
    let healthy = ListInstancesParams { healthy_only: true, ..list("api") };
    assert_eq!(ids(&h.store.service_instances(healthy.clone()).await.unwrap()), vec![("api-2", Health::Passing)]);
    let lapsed = h.store.get_instance(key("api", "api-1")).await.unwrap();
    assert_eq!((lapsed.health, lapsed.output.as_deref()), (Health::Critical, Some(TTL_LAPSED)));
    assert_eq!(lapsed.critical_since, lapsed.expires_at, "critical since its deadline");
    assert_eq!(index_of(h, "api").await, 2);
    let report = h.store.sweep_instances(100).await.unwrap();
    assert_eq!((report.lapsed, report.deregistered), (1, 0));
    assert_eq!(index_of(h, "api").await, 3, "the sweep's record is a change");
    assert_eq!(h.store.sweep_instances(100).await.unwrap().lapsed, 0, "recorded once");
    // A heartbeat brings it back (a change); one on a passing instance moves nothing.
    let back = h.store.heartbeat_instance(key("api", "api-1")).await.unwrap();
    assert_eq!((back.health, back.critical_since, back.modify_index), (Health::Passing, None, 4));
    assert_eq!(h.store.heartbeat_instance(key("api", "api-1")).await.unwrap().modify_index, 4);
    assert_eq!(h.store.service_instances(healthy).await.unwrap().instances.len(), 2);
    assert!(matches!(h.store.heartbeat_instance(key("api", "nope")).await, Err(Error::InstanceNotFound { .. })));
    let mut announced = 0;
    tokio::time::timeout(Duration::from_secs(5), async {
        while announced < 4 {
            if let Change::ServiceChanged { service, .. } = changes.recv().await.expect("feed open")
                && service == "api"
            {
                announced += 1;
            }
        }
    })
    .await
    .expect("two registrations, the sweep and the recovery are announced");
}

pub async fn instances_critical_too_long_are_deregistered(h: &Harness) {
    let short = RegisterParams { deregister_after_ms: Some(10_000), ..ttl_instance("jobs", "j-1", 5) };
    h.store.register_instance(short).await.unwrap();
    h.store.register_instance(ttl_instance("jobs", "j-2", 5)).await.unwrap();
    let checked =
        RegisterParams { check: http_check(), deregister_after_ms: Some(30_000), ..ttl_instance("jobs", "j-3", 5) };
    h.store.register_instance(checked).await.unwrap();
    h.advance(6 * SECOND);
    assert_eq!(h.store.sweep_instances(100).await.unwrap().lapsed, 2);
    h.advance(8 * SECOND);
    assert_eq!(h.store.sweep_instances(100).await.unwrap().deregistered, 0, "critical for 9 s of 10");
    h.advance(2 * SECOND);
    assert_eq!(h.store.sweep_instances(100).await.unwrap().deregistered, 1);
    let left = h.store.service_instances(list("jobs")).await.unwrap();
    assert_eq!(ids(&left), vec![("j-2", Health::Critical), ("j-3", Health::Critical)], "no deregister_after: stays");
    // A checked instance that never passed counts as critical from its registration.
    h.advance(15 * SECOND);
    assert_eq!(h.store.sweep_instances(100).await.unwrap().deregistered, 1);
    assert_eq!(ids(&h.store.service_instances(list("jobs")).await.unwrap()), vec![("j-2", Health::Critical)]);
}

pub async fn checks_start_critical_and_follow_their_results(h: &Harness) {
    assert_eq!(h.store.claim_checks(10).await.unwrap(), DueChecks::default(), "nothing to check");
    let params = RegisterParams { check: http_check(), ..ttl_instance("db", "db-1", 1) };
    let registered = h.store.register_instance(params.clone()).await.unwrap().instance;
    assert_eq!((registered.health, registered.output.as_deref()), (Health::Critical, Some(AWAITING_FIRST_CHECK)));
    assert_eq!(registered.expires_at, None);
    assert!(matches!(h.store.heartbeat_instance(key("db", "db-1")).await, Err(Error::NotTtlInstance { .. })));
    let due = h.store.claim_checks(10).await.unwrap();
    assert_eq!(due.checks.len(), 1);
    assert_eq!((&due.checks[0].key, &due.checks[0].check), (&key("db", "db-1"), &http_check()));
    let idle = h.store.claim_checks(10).await.unwrap();
    assert_eq!(idle, DueChecks { checks: Vec::new(), next_due_in_ms: Some(12_000) }, "handed out once per run");
    let outcome = |passing: bool, check: HealthCheck| CheckOutcome {
        key: key("db", "db-1"),
        check,
        passing,
        output: if passing { "HTTP 200".into() } else { "HTTP 503".into() },
        checked_by: "node-a".into(),
    };
    let passed = h.store.record_check(outcome(true, http_check())).await.unwrap().unwrap();
    assert_eq!(
        (passed.health, passed.modify_index, passed.checked_by.as_deref()),
        (Health::Passing, 2, Some("node-a"))
    );
    assert_eq!(passed.next_check_at, Some(h.clock_now().plus(10 * SECOND)));
    assert_eq!(h.store.record_check(outcome(true, http_check())).await.unwrap().unwrap().modify_index, 2);
    let failed = h.store.record_check(outcome(false, http_check())).await.unwrap().unwrap();
    assert_eq!((failed.health, failed.critical_since, failed.modify_index), (Health::Critical, Some(h.clock_now()), 3));
    assert_eq!(failed.output.as_deref(), Some("HTTP 503"));
    // A result for a check since replaced, or an instance since gone, is dropped.
    let stale = HealthCheck::Tcp { address: "10.0.0.2:5432".into(), interval_ms: 5_000, timeout_ms: 1_000 };
    assert_eq!(h.store.record_check(outcome(true, stale)).await.unwrap(), None);
    // Re-registering with the same check keeps its last result; the next run is due after the interval.
    let retagged = RegisterParams { tags: vec!["primary".into()], ..params };
    assert_eq!(h.store.register_instance(retagged).await.unwrap().instance.health, Health::Critical);
    assert!(h.store.claim_checks(10).await.unwrap().checks.is_empty());
    h.advance(10 * SECOND);
    let next = h.store.claim_checks(10).await.unwrap();
    assert_eq!(next.checks.len(), 1);
    assert_eq!(next.next_due_in_ms, Some(12_000), "held for its interval plus its timeout");
    h.store.deregister_instance(key("db", "db-1")).await.unwrap();
    assert_eq!(h.store.record_check(outcome(true, http_check())).await.unwrap(), None);
}

pub async fn instances_filter_by_health_and_tags_and_page(h: &Harness) {
    for (id, tags) in [("c", vec!["v1", "eu"]), ("a", vec!["v1", "us"]), ("b", vec!["v2", "eu"]), ("d", vec!["v1"])] {
        let params =
            RegisterParams { tags: tags.into_iter().map(str::to_owned).collect(), ..ttl_instance("s", id, 10) };
        h.store.register_instance(params).await.unwrap();
    }
    let checked =
        RegisterParams { check: http_check(), tags: vec!["v1".into(), "eu".into()], ..ttl_instance("s", "e", 1) };
    h.store.register_instance(checked).await.unwrap();
    let tagged =
        |tags: &[&str]| ListInstancesParams { tags: tags.iter().map(|t| (*t).to_owned()).collect(), ..list("s") };
    let names = |found: ServiceInstances| found.instances.into_iter().map(|i| i.instance_id).collect::<Vec<_>>();
    assert_eq!(names(h.store.service_instances(tagged(&["v1"])).await.unwrap()), vec!["a", "c", "d", "e"]);
    assert_eq!(names(h.store.service_instances(tagged(&["v1", "eu"])).await.unwrap()), vec!["c", "e"]);
    let healthy = ListInstancesParams { healthy_only: true, ..tagged(&["v1", "eu"]) };
    assert_eq!(names(h.store.service_instances(healthy).await.unwrap()), vec!["c"]);
    assert!(h.store.service_instances(tagged(&["nope"])).await.unwrap().instances.is_empty());
    let first = h.store.service_instances(ListInstancesParams { limit: 2, ..list("s") }).await.unwrap();
    assert_eq!(names(first.clone()), vec!["a", "b"]);
    assert!(first.next_cursor.is_some());
    let rest = ListInstancesParams { limit: 2, after: Some("b".into()), ..list("s") };
    let rest = h.store.service_instances(rest).await.unwrap();
    assert_eq!(rest.instances.iter().map(|i| i.instance_id.as_str()).collect::<Vec<_>>(), vec!["c", "d"]);
    assert!(rest.next_cursor.is_some());
    assert_eq!(rest.index, 5);
}

pub async fn services_list_with_counts_by_health(h: &Harness) {
    h.store.register_instance(ttl_instance("web", "w1", 10)).await.unwrap();
    h.store.register_instance(ttl_instance("web", "w2", 30)).await.unwrap();
    h.store.register_instance(ttl_instance("api", "a1", 30)).await.unwrap();
    let checked = RegisterParams { check: http_check(), ..ttl_instance("cache", "c1", 1) };
    h.store.register_instance(checked).await.unwrap();
    h.advance(11 * SECOND);
    let all = ListServicesParams { namespace: ns(), after: None, limit: 100 };
    let page = h.store.list_services(all.clone()).await.unwrap();
    let counts: Vec<(&str, u64, u64, u64, i64)> =
        page.items.iter().map(|s| (s.service.as_str(), s.passing, s.critical, s.total, s.index)).collect();
    assert_eq!(counts, vec![("api", 1, 0, 1, 1), ("cache", 0, 1, 1, 1), ("web", 1, 1, 2, 2)]);
    let first = h.store.list_services(ListServicesParams { limit: 2, ..all.clone() }).await.unwrap();
    assert_eq!(first.items.len(), 2);
    assert!(first.next_cursor.is_some());
    let rest = h.store.list_services(ListServicesParams { after: Some("cache".into()), ..all.clone() }).await.unwrap();
    assert_eq!((rest.items.len(), rest.items[0].service.as_str(), rest.next_cursor), (1, "web", None));
    // A service whose last instance left is no longer listed.
    h.store.deregister_instance(key("api", "a1")).await.unwrap();
    let left: Vec<String> = h.store.list_services(all).await.unwrap().items.into_iter().map(|s| s.service).collect();
    assert_eq!(left, vec!["cache", "web"]);
}

pub async fn a_registration_on_one_node_is_announced_on_every_node(h: &Harness) {
    let other = h.another_node().await.unwrap_or_else(|| h.store.clone());
    let mut changes = h.store.changes();
    other.register_instance(ttl_instance("shared", "s-1", 10)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Change::ServiceChanged { namespace, service } = changes.recv().await.expect("feed open")
                && service == "shared"
            {
                assert_eq!(namespace, ns());
                return;
            }
        }
    })
    .await
    .expect("the registration is announced");
    // Both nodes draw from the one index.
    h.store.register_instance(ttl_instance("shared", "s-2", 10)).await.unwrap();
    assert_eq!(other.service_instances(list("shared")).await.unwrap().index, 2);
}
