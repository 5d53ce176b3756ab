//! Redis as a benchmark peer: the usual single-instance lock recipe, with no blocking acquire of its own.
//!
//! - acquire: `SET key token NX PX ttl`, with a token unique per acquire.
//! - release: a Lua compare-and-delete, so a client never deletes a lock it no longer holds:
//!   `if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end`
//!   (sent as EVALSHA once the script is cached).
//! - contended: Redis has no way to wait for a key, so a waiter spins: `SET NX PX`, and on failure sleeps
//!   [`SPIN_SLEEP`] and tries again. The output says so. There is no queue, so no fairness either.
//! - keepalive: a lease is a key with a TTL; one keepalive is `PEXPIRE key ttl` (checked to return 1).
//!
//! Each client has its own multiplexed connection. Durability: run-locks.sh starts Redis with no persistence
//! (`--save "" --appendonly no`) unless `REDIS_DURABLE=1` (`--appendonly yes --appendfsync always`).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use redis::Script;
use redis::aio::MultiplexedConnection;

use crate::target::{LEASE_TTL_SECS, LOCK_TTL_SECS, Scenario, Target, TargetClient, Wait};

/// How long a spinning waiter sleeps between two failed `SET NX`.
pub const SPIN_SLEEP: Duration = Duration::from_millis(1);

const RELEASE_LUA: &str =
    "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end";

/// One Redis server, e.g. `redis://127.0.0.1:6390`.
pub struct Redis {
    pub url: String,
}

pub struct RedisClient {
    connection: MultiplexedConnection,
    owner: String,
    counter: u64,
    release: Script,
}

impl Target for Redis {
    type Client = RedisClient;

    async fn connect(&self, owner: String) -> Result<RedisClient> {
        let client = redis::Client::open(self.url.as_str()).with_context(|| format!("redis url {}", self.url))?;
        let connection = client
            .get_multiplexed_async_connection()
            .await
            .with_context(|| format!("connect to redis at {}", self.url))?;
        Ok(RedisClient { connection, owner, counter: 0, release: Script::new(RELEASE_LUA) })
    }

    fn note(&self, scenario: Scenario) -> Option<&'static str> {
        match scenario {
            Scenario::Contended => Some("redis has no blocking acquire: SET NX PX spin with 1 ms sleep, no queue"),
            Scenario::Keepalive => Some("redis keepalive = PEXPIRE on a key with a TTL"),
            Scenario::Uncontended => None,
        }
    }
}

impl RedisClient {
    /// One `SET key token NX PX ttl`; `Some(token)` when it took the key.
    async fn try_set(&mut self, key: &str) -> Result<Option<String>> {
        self.counter += 1;
        let token = format!("{}-{}", self.owner, self.counter);
        let reply: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(LOCK_TTL_SECS * 1000)
            .query_async(&mut self.connection)
            .await
            .context("redis SET NX PX")?;
        Ok(reply.map(|_| token))
    }
}

impl TargetClient for RedisClient {
    /// The token stored as the key's value.
    type Held = String;
    /// The lease's key.
    type Lease = String;

    async fn acquire(&mut self, key: &str, wait: Wait) -> Result<String> {
        match wait {
            Wait::No => self.try_set(key).await?.with_context(|| format!("redis key {key} unexpectedly held")),
            Wait::UpTo(secs) => {
                let give_up = Instant::now() + Duration::from_secs(secs);
                loop {
                    if let Some(token) = self.try_set(key).await? {
                        return Ok(token);
                    }
                    if Instant::now() >= give_up {
                        bail!("redis spin on {key} gave up after {secs} s");
                    }
                    tokio::time::sleep(SPIN_SLEEP).await;
                }
            }
        }
    }

    async fn release(&mut self, key: &str, token: String) -> Result<()> {
        let deleted: i64 = self
            .release
            .key(key)
            .arg(token)
            .invoke_async(&mut self.connection)
            .await
            .context("redis compare-and-delete")?;
        if deleted != 1 {
            bail!("redis lock {key} was no longer ours at release");
        }
        Ok(())
    }

    async fn grant_lease(&mut self) -> Result<String> {
        let key = format!("bench-lease/{}", self.owner);
        let _: () = redis::cmd("SET")
            .arg(&key)
            .arg(&self.owner)
            .arg("PX")
            .arg(LEASE_TTL_SECS * 1000)
            .query_async(&mut self.connection)
            .await
            .context("redis SET lease key")?;
        Ok(key)
    }

    async fn keepalive(&mut self, key: &mut String) -> Result<()> {
        let renewed: i64 = redis::cmd("PEXPIRE")
            .arg(key.as_str())
            .arg(LEASE_TTL_SECS * 1000)
            .query_async(&mut self.connection)
            .await
            .context("redis PEXPIRE")?;
        if renewed != 1 {
            bail!("redis lease key {key} has expired");
        }
        Ok(())
    }

    async fn revoke_lease(&mut self, key: String) -> Result<()> {
        let _: i64 = redis::cmd("DEL").arg(key).query_async(&mut self.connection).await.context("redis DEL lease")?;
        Ok(())
    }

    async fn close(self) -> Result<()> {
        Ok(())
    }
}
