//! How the Redis store names its keys and talks to Redis: the key prefix, and a connection that
//! sends a command once more when it meets a dropped connection.

use std::sync::Arc;

use redis::aio::ConnectionManager;

use super::outage::Outage;

use crate::store::answers::StoreError;

pub(super) const PREFIX: &str = "bsim:";

pub(super) fn key(name: &str) -> String {
    format!("{PREFIX}{name}")
}

/// `once:<n>`: where a counting script keeps its answer, so that the same call sent again
/// (after a dropped connection) is not counted twice.
pub(super) fn once() -> String {
    key(&format!("once:{:016x}", rand::random::<u64>()))
}

/// Redis out of reach, as the store says it.
pub(super) fn down(shown: &str, e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("Redis at {shown}: {e}"))
}

/// The connection, shared by every call (commands are pipelined on it). A command that meets
/// a dropped connection (Redis restarted since the last call) is sent once more on the new one,
/// so the first call after Redis comes back is served, not refused. Redis may have run it
/// before the connection dropped: every script is written to be sent twice (`scripts.rs`).
/// Every answer and every failure is told to the replica's [`Outage`], which logs an outage's
/// start and end.
#[derive(Clone)]
pub(super) struct Conn(pub(super) ConnectionManager, pub(super) Arc<Outage>);

impl Conn {
    fn told<T>(&self, answer: redis::RedisResult<T>) -> redis::RedisResult<T> {
        match &answer {
            Ok(_) => self.1.answered(),
            Err(e) => self.1.failed(e),
        }
        answer
    }
}

impl redis::aio::ConnectionLike for Conn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        Box::pin(async move {
            let answer = match self.0.req_packed_command(cmd).await {
                Err(e) if e.is_connection_dropped() => self.0.req_packed_command(cmd).await,
                answer => answer,
            };
            self.told(answer)
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        Box::pin(async move {
            let answer = self.0.req_packed_commands(cmd, offset, count).await;
            self.told(answer)
        })
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}
