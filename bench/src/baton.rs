//! Baton as a benchmark target, through the Rust SDK (`baton-client`) over HTTP.
//!
//! - acquire: `acquire_lock` with a TTL of [`LOCK_TTL_SECS`]; uncontended without a wait, contended with
//!   `wait_timeout_seconds`, so the server queues the waiter and grants it when the holder releases.
//! - release: `release_lock(key, lock_id, owner)`.
//! - keepalive: `grant_lease` and a keepalive stream (`lease_keepalives`, one WebSocket) once per client, then
//!   one keepalive per iteration on that stream, as etcd's client uses its `LeaseKeepAlive` stream; the stream is
//!   closed and the lease revoked at the end.
//!
//! Each client has its own `BatonClient` (its own HTTP connection pool). The same code measures every Baton
//! backend; run-locks.sh labels the runs `baton-sqlite` and `baton-postgres`.

use anyhow::{Context, Result};
use baton_client::api::lock::AcquireLockRequest;
use baton_client::{BatonClient, LeaseKeepalives};

use crate::target::{LEASE_TTL_SECS, LOCK_TTL_SECS, Target, TargetClient, Wait};

/// One Baton server, e.g. `http://127.0.0.1:18080`.
pub struct Baton {
    pub url: String,
}

pub struct BatonTargetClient {
    client: BatonClient,
    owner: String,
}

/// A client's lease and the keepalive stream it keeps it alive on.
pub struct BatonLease {
    lease_id: String,
    stream: LeaseKeepalives,
}

impl Target for Baton {
    type Client = BatonTargetClient;

    async fn connect(&self, owner: String) -> Result<BatonTargetClient> {
        let client = BatonClient::new(&self.url).with_context(|| format!("baton client for {}", self.url))?;
        Ok(BatonTargetClient { client, owner })
    }
}

impl TargetClient for BatonTargetClient {
    /// The granted lock id.
    type Held = String;
    type Lease = BatonLease;

    async fn acquire(&mut self, key: &str, wait: Wait) -> Result<String> {
        let request = AcquireLockRequest {
            key: key.to_owned(),
            owner: self.owner.clone(),
            ttl_seconds: LOCK_TTL_SECS as _,
            wait_timeout_seconds: match wait {
                Wait::No => None,
                Wait::UpTo(secs) => Some(secs as _),
            },
            ..Default::default()
        };
        let grant = self.client.acquire_lock(request).await.context("baton acquire_lock")?;
        Ok(grant.lock_id)
    }

    async fn release(&mut self, key: &str, lock_id: String) -> Result<()> {
        self.client.release_lock(key, &lock_id, &self.owner).await.context("baton release_lock")?;
        Ok(())
    }

    async fn grant_lease(&mut self) -> Result<BatonLease> {
        let lease = self.client.grant_lease(LEASE_TTL_SECS as _).await.context("baton grant_lease")?;
        let stream = self.client.lease_keepalives().await.context("baton keepalive stream")?;
        Ok(BatonLease { lease_id: lease.lease_id, stream })
    }

    async fn keepalive(&mut self, lease: &mut BatonLease) -> Result<()> {
        lease.stream.keepalive(&lease.lease_id).await.context("baton keepalive on the stream")?;
        Ok(())
    }

    async fn revoke_lease(&mut self, lease: BatonLease) -> Result<()> {
        lease.stream.close().await.context("close the keepalive stream")?;
        self.client.revoke_lease(&lease.lease_id).await.context("baton revoke_lease")?;
        Ok(())
    }

    async fn close(self) -> Result<()> {
        Ok(())
    }
}
