//! etcd as a benchmark peer, through its real v3 lock and lease APIs over gRPC (crate etcd-client).
//!
//! Each client is used the way etcd's own `concurrency.Session` uses it: on connect it grants one session lease
//! (TTL [`LOCK_TTL_SECS`]) and keeps it alive in the background every TTL/3, and every `lock()` it makes is
//! attached to that lease, so a lock dies with its holder like a Baton lock with a TTL. Per acquire+release etcd
//! then does one `Lock` RPC (a put under the lease plus, when contended, a wait on the previous holder's key) and
//! one `Unlock` RPC (a delete). `Lock` blocks on the server until granted: that is the contended "blocking wait".
//!
//! Keepalive uses `lease_keep_alive`'s bidirectional stream: per iteration one keepalive request is sent and its
//! response read before the next is sent.
//!
//! Durability: etcd commits every Lock/Unlock through its raft log with fsync (one node here), so lock operations
//! are durable. Lease keepalives are served by the leader without a log write, as in any etcd deployment.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use etcd_client::{Client, LeaseKeepAliveStream, LeaseKeeper, LockOptions};
use tokio::task::JoinHandle;

use crate::target::{LEASE_TTL_SECS, LOCK_TTL_SECS, Target, TargetClient, Wait};

/// One etcd endpoint, e.g. `http://127.0.0.1:2379`.
pub struct Etcd {
    pub endpoint: String,
}

pub struct EtcdClient {
    client: Client,
    session_lease: i64,
    session_keeper: JoinHandle<()>,
}

pub struct EtcdLease {
    id: i64,
    keeper: LeaseKeeper,
    stream: LeaseKeepAliveStream,
}

impl Target for Etcd {
    type Client = EtcdClient;

    async fn connect(&self, _owner: String) -> Result<EtcdClient> {
        let mut client = Client::connect([self.endpoint.as_str()], None)
            .await
            .with_context(|| format!("connect to etcd at {}", self.endpoint))?;
        let session_lease =
            client.lease_grant(LOCK_TTL_SECS as i64, None).await.context("grant etcd session lease")?.id();
        let (mut keeper, mut stream) =
            client.lease_keep_alive(session_lease).await.context("open session keepalive stream")?;
        let session_keeper = tokio::spawn(async move {
            let every = Duration::from_secs((LOCK_TTL_SECS / 3).max(1));
            loop {
                tokio::time::sleep(every).await;
                if keeper.keep_alive().await.is_err() || !matches!(stream.message().await, Ok(Some(_))) {
                    return;
                }
            }
        });
        Ok(EtcdClient { client, session_lease, session_keeper })
    }
}

impl TargetClient for EtcdClient {
    /// The ownership key etcd returns from `Lock`, which `Unlock` takes.
    type Held = Vec<u8>;
    type Lease = EtcdLease;

    async fn acquire(&mut self, key: &str, wait: Wait) -> Result<Vec<u8>> {
        let options = LockOptions::new().with_lease(self.session_lease);
        let lock = self.client.lock(key, Some(options));
        let response = match wait {
            // The key is this client's alone, so Lock returns at once; the timeout only guards a mistake.
            Wait::No => tokio::time::timeout(Duration::from_secs(10), lock).await,
            Wait::UpTo(secs) => tokio::time::timeout(Duration::from_secs(secs), lock).await,
        }
        .context("etcd lock wait timed out")?
        .context("etcd lock")?;
        Ok(response.key().to_vec())
    }

    async fn release(&mut self, _key: &str, held: Vec<u8>) -> Result<()> {
        self.client.unlock(held).await.context("etcd unlock")?;
        Ok(())
    }

    async fn grant_lease(&mut self) -> Result<EtcdLease> {
        let id = self.client.lease_grant(LEASE_TTL_SECS as i64, None).await.context("etcd lease grant")?.id();
        let (keeper, stream) = self.client.lease_keep_alive(id).await.context("etcd lease keepalive stream")?;
        Ok(EtcdLease { id, keeper, stream })
    }

    async fn keepalive(&mut self, lease: &mut EtcdLease) -> Result<()> {
        lease.keeper.keep_alive().await.context("send keepalive")?;
        let response = lease.stream.message().await.context("read keepalive")?.context("keepalive stream ended")?;
        if response.ttl() <= 0 {
            bail!("etcd lease {} has expired", lease.id);
        }
        Ok(())
    }

    async fn revoke_lease(&mut self, lease: EtcdLease) -> Result<()> {
        drop((lease.keeper, lease.stream));
        self.client.lease_revoke(lease.id).await.context("etcd lease revoke")?;
        Ok(())
    }

    async fn close(mut self) -> Result<()> {
        self.session_keeper.abort();
        self.client.lease_revoke(self.session_lease).await.context("revoke etcd session lease")?;
        Ok(())
    }
}
