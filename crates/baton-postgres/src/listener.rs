//! Turns `NOTIFY baton_changes` from any node into local [`Change`]s.
//!
//! Delivery is best effort: while the listening connection is re-established, notifications can be lost,
//! and waiters fall back on their bounded safety poll.

use std::time::Duration;

use baton_core::job::JobId;
use baton_core::lock::LockId;
use baton_core::namespace::Namespace;
use baton_core::store::{Change, Grant};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{broadcast, oneshot};

pub(crate) const CHANNEL: &str = "baton_changes";

/// PostgreSQL refuses payloads of 8000 bytes or more.
const MAX_PAYLOAD: usize = 7000;
/// Ids per line, so that one line stays well under [`MAX_PAYLOAD`].
const IDS_PER_LINE: usize = 100;

/// Encodes changes as notification payloads, one change per line: `L ids`, `A namespace queue`,
/// `F namespace queue ids` (ids comma-separated), `E namespace position stream`, `V namespace election`, or `S namespace service`. Namespaces and queue names
/// hold no spaces; a stream or election name may, so it comes last (it holds no line break: control characters are refused).
pub(crate) fn payloads(changes: &[Change]) -> Vec<String> {
    let join = |ids: &mut dyn Iterator<Item = String>| ids.collect::<Vec<_>>().join(",");
    let mut lines = Vec::new();
    for change in changes {
        match change {
            Change::WaitersGranted(grants) => {
                for chunk in grants.chunks(IDS_PER_LINE) {
                    lines.push(format!("L {}", join(&mut chunk.iter().map(|grant| grant.lock_id.to_string()))));
                }
            }
            Change::JobsAvailable { namespace, queue } => lines.push(format!("A {namespace} {queue}")),
            Change::JobsFinished { namespace, queue, job_ids } => {
                for chunk in job_ids.chunks(IDS_PER_LINE) {
                    lines.push(format!("F {namespace} {queue} {}", join(&mut chunk.iter().map(ToString::to_string))));
                }
            }
            Change::EventsAppended { namespace, stream, last_position } => {
                lines.push(format!("E {namespace} {last_position} {stream}"));
            }
            Change::LeaderChanged { namespace, name } => lines.push(format!("V {namespace} {name}")),
            Change::ServiceChanged { namespace, service } => lines.push(format!("S {namespace} {service}")),
        }
    }
    let mut payloads: Vec<String> = Vec::new();
    for line in lines {
        match payloads.last_mut() {
            Some(payload) if payload.len() + line.len() < MAX_PAYLOAD => {
                payload.push('\n');
                payload.push_str(&line);
            }
            _ => payloads.push(line),
        }
    }
    payloads
}

/// Decodes what [`payloads`] wrote, skipping lines it cannot read (a newer node's, say).
fn parse(payload: &str) -> Vec<Change> {
    payload.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Change> {
    if let Some(appended) = line.strip_prefix("E ") {
        let mut fields = appended.splitn(3, ' ');
        let namespace = Namespace::parse(fields.next()?).ok()?;
        let last_position = fields.next()?.parse().ok()?;
        return Some(Change::EventsAppended { namespace, last_position, stream: fields.next()?.to_owned() });
    }
    if let Some(election) = line.strip_prefix("V ") {
        let (namespace, name) = election.split_once(' ')?;
        return Some(Change::LeaderChanged { namespace: Namespace::parse(namespace).ok()?, name: name.to_owned() });
    }
    if let Some(changed) = line.strip_prefix("S ") {
        let (namespace, service) = changed.split_once(' ')?;
        let namespace = Namespace::parse(namespace).ok()?;
        return Some(Change::ServiceChanged { namespace, service: service.to_owned() });
    }
    let mut fields = line.split(' ');
    let kind = fields.next()?;
    match kind {
        "L" => {
            let ids = fields.next()?.split(',').filter_map(LockId::parse);
            Some(Change::WaitersGranted(ids.map(Grant::of).collect()))
        }
        "A" | "F" => {
            let namespace = Namespace::parse(fields.next()?).ok()?;
            let queue = fields.next()?.to_owned();
            if kind == "A" {
                return Some(Change::JobsAvailable { namespace, queue });
            }
            let job_ids = fields.next()?.split(',').filter_map(JobId::parse).collect();
            Some(Change::JobsFinished { namespace, queue, job_ids })
        }
        _ => None,
    }
}

/// Listens until every receiver of `changes` is gone. `listening` fires once the first `LISTEN` holds, so the
/// store can wait for it before it serves: a change committed earlier by another node would not reach it.
pub(crate) async fn run(pool: PgPool, changes: broadcast::Sender<Change>, listening: oneshot::Sender<()>) {
    let mut listening = Some(listening);
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot open the LISTEN connection; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(error) = listener.listen(CHANNEL).await {
            tracing::warn!(%error, "LISTEN failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        if let Some(listening) = listening.take() {
            let _ = listening.send(());
        }
        loop {
            match listener.recv().await {
                Ok(notification) => {
                    for change in parse(notification.payload()) {
                        if changes.send(change).is_err() && pool.is_closed() {
                            return;
                        }
                    }
                }
                Err(error) => {
                    if pool.is_closed() {
                        return;
                    }
                    tracing::warn!(%error, "LISTEN connection lost; reconnecting");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_survive_the_round_trip_through_payloads() {
        let namespace = Namespace::parse("billing/eu").unwrap();
        let changes = vec![
            Change::WaitersGranted(vec![Grant::of(LockId::new()), Grant::of(LockId::new())]),
            Change::JobsAvailable { namespace: namespace.clone(), queue: "emails".into() },
            Change::JobsFinished {
                namespace: namespace.clone(),
                queue: "emails".into(),
                job_ids: vec![JobId::new(), JobId::new()],
            },
            Change::EventsAppended { namespace: namespace.clone(), stream: "order 42/é".into(), last_position: 17 },
            Change::LeaderChanged { namespace: namespace.clone(), name: "primary db".into() },
            Change::ServiceChanged { namespace, service: "web api".into() },
        ];
        let decoded: Vec<Change> = payloads(&changes).iter().flat_map(|payload| parse(payload)).collect();
        assert_eq!(decoded, changes);
    }

    #[test]
    fn many_ids_split_into_payloads_under_the_limit() {
        let ids: Vec<JobId> = (0..1000).map(|_| JobId::new()).collect();
        let change = Change::JobsFinished { namespace: Namespace::default(), queue: "q".into(), job_ids: ids.clone() };
        let encoded = payloads(&[change]);
        assert!(encoded.len() > 1 && encoded.iter().all(|payload| payload.len() < 8000));
        let decoded: usize = encoded
            .iter()
            .flat_map(|payload| parse(payload))
            .map(|change| match change {
                Change::JobsFinished { job_ids, .. } => job_ids.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(decoded, ids.len());
    }
}
