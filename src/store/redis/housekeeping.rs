//! A Redis replica's housekeeping, every second, and the redemptions it takes back: what keeps
//! [`Outage`](super::outage::Outage) current (Redis's clock, the live count, whether Redis
//! answers) and settles what a call answered 503 may have left used.

use super::RedisStore;
use crate::domain::clock;
use crate::domain::OtpToken;
use crate::store::answers::StoreError;

/// Redis's `TIME` (seconds, microseconds), the directory's version.
type Reading = ((u64, u64), Option<String>);

impl RedisStore {
    /// Every second: Redis's clock read, the live tokens counted, the directory read (so what
    /// this replica checks without asking follows the others' changes), and the redemptions owed
    /// taken back. An error is an outage, already on record.
    pub async fn housekeep(&self) {
        let sent = clock::now_ms();
        let reading: Result<Reading, StoreError> = async {
            let mut conn = self.conn().await?;
            redis::pipe()
                .cmd("TIME")
                .cmd("GET")
                .arg(self.key("dir:ver"))
                .query_async(&mut conn)
                .await
                .map_err(|e| self.down(e))
        }
        .await;
        let Ok(((secs, micros), version)) = reading else {
            return;
        };
        let received = clock::now_ms();
        self.outage
            .clock_reading(secs * 1000 + micros / 1000, sent, received);
        // An empty Redis counts no tokens: the count before it emptied is what was lost, and
        // reading the directory seeds it and says so.
        if version.is_some() {
            let _ = self.live_tokens().await;
        }
        let _ = self.directory().await;
        let _ = self.take_back(None).await;
    }

    /// Takes back the redemptions this replica owes (for `token`, or all, the sandboxes' too:
    /// each names its store's keys): each one only if the call it answered 503 did use the
    /// token. Fails while Redis is out of reach, and then the token's next call through this
    /// replica is answered 503 too.
    pub(super) async fn take_back(&self, token: Option<&OtpToken>) -> Result<(), StoreError> {
        for owed in self.outage.owed(token) {
            let taken: i64 = self
                .scripts
                .take_back
                .key(format!("{}t:{}", owed.prefix, owed.token))
                .key(format!("{}unused", owed.prefix))
                .key(format!("{}gen", owed.prefix))
                .key(format!("{}live", owed.prefix))
                .key(format!("{}meta", owed.prefix))
                .arg(&owed.call)
                .arg(owed.token.to_string())
                .arg(clock::now_ms())
                .arg(if owed.prefix == super::conn::PREFIX {
                    ""
                } else {
                    "1"
                })
                .invoke_async(&mut self.conn().await?)
                .await
                .map_err(|e| self.down(e))?;
            if taken == 1 {
                metrics::counter!(crate::store::counts::TAKEN_BACK).increment(1);
                tracing::warn!(
                    token = %owed.token.masked(),
                    "a cert call answered 503 had used token {} in Redis after all: taken back, the token can be used once",
                    owed.token.masked()
                );
            }
            self.outage.settled(&owed);
        }
        Ok(())
    }
}
