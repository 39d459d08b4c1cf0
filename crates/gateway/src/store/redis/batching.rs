//! Pipelined scripts: every script invocation goes through one batching
//! task, which sends whatever is waiting as one pipeline, so under load a
//! round trip serves many requests while a lone request still goes at
//! once.

use std::sync::Arc;

use ::redis::{FromRedisValue, RedisResult, Value};
use tracing::Instrument;

use super::pool::{Req, unavailable};
use super::{Inner, RedisStore};
use crate::store::StoreError;

impl RedisStore {
    /// Run one script invocation. Invocations from every task go to Redis
    /// together: a batching task sends whatever is waiting as one pipeline
    /// (up to [`BATCH_MAX`], with up to [`BATCHES_IN_FLIGHT`] pipelines
    /// out at once), so under load a round trip, a write and a read serve
    /// many requests — on both sides — while a lone request still goes at
    /// once. Each script still runs atomically on its own; a pipeline is
    /// not a transaction. A script Redis does not know (NOSCRIPT: it
    /// restarted) is loaded and run again on its own.
    pub(super) async fn script<T: FromRedisValue>(
        &self,
        inv: ::redis::ScriptInvocation<'static>,
    ) -> Result<T, StoreError> {
        let tx = self.inner.batch.get_or_init(|| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            // Its own span: it serves every caller, not the first one.
            let span = tracing::info_span!(parent: None, "redis_batches");
            tokio::spawn(batch_loop(Arc::downgrade(&self.inner), rx).instrument(span));
            tx
        });
        let (reply, answer) = tokio::sync::oneshot::channel();
        tx.send(Job { inv, reply })
            .map_err(|_| StoreError("redis: batching stopped".into()))?;
        let v = answer
            .await
            .map_err(|_| StoreError("redis: batching stopped".into()))??;
        T::from_redis_value(v).map_err(unavailable)
    }

    /// Run a batch of scripts as one pipeline and answer each.
    async fn run_batch(&self, mut jobs: Vec<Job>) {
        let mut pipe = ::redis::pipe();
        pipe.ignore_errors();
        for j in &jobs {
            pipe.invoke_script(&j.inv);
        }
        let results: Vec<RedisResult<Value>> = match self.run(Req::Pipe(&pipe)).await {
            Ok(r) => r,
            Err(e) => {
                for j in jobs {
                    let _ = j.reply.send(Err(e.clone()));
                }
                return;
            }
        };
        let mut results = results.into_iter();
        for j in jobs.drain(..) {
            let r = match results.next() {
                Some(Err(e))
                    if e.kind()
                        == ::redis::ErrorKind::Server(::redis::ServerErrorKind::NoScript) =>
                {
                    // Loads the script and runs it again.
                    match self.inner.pool.get().await {
                        Ok(mut c) => j.inv.invoke_async(&mut c.conn).await.map_err(unavailable),
                        Err(e) => Err(unavailable(e)),
                    }
                }
                Some(Err(e)) => Err(unavailable(e)),
                Some(Ok(v)) => Ok(v),
                None => Err(StoreError("redis: a pipeline answer is missing".into())),
            };
            let _ = j.reply.send(r);
        }
    }
}

/// Scripts in one pipeline at most.
const BATCH_MAX: usize = 256;

/// Pipelines out at once.
const BATCHES_IN_FLIGHT: usize = 4;

/// A script invocation waiting for its pipeline, and where its answer goes.
pub(super) struct Job {
    inv: ::redis::ScriptInvocation<'static>,
    reply: tokio::sync::oneshot::Sender<Result<Value, StoreError>>,
}

/// Gather waiting scripts into pipelines until the store is dropped.
async fn batch_loop(
    inner: std::sync::Weak<Inner>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Job>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(BATCHES_IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // While every slot is busy, more jobs gather for the next batch.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut jobs = vec![first];
        while jobs.len() < BATCH_MAX {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let store = RedisStore { inner };
        tokio::spawn(
            async move {
                store.run_batch(jobs).await;
                drop(slot);
            }
            .in_current_span(),
        );
    }
}
