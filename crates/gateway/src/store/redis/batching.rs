//! Pipelined scripts: every script invocation goes through one batching
//! task, which sends whatever is waiting as one pipeline, so under load a
//! round trip serves many requests while a lone request still goes at
//! once. The operations that come once per message (`submit`, `sent`,
//! `receipt`) go further: the ones waiting together run as one
//! invocation of their script's merged form (see [`Merge`]), so Redis
//! sets up one script call, one Lua garbage-collection step and one
//! MULTI/EXEC in its append-only file for many messages instead of one
//! each.

use std::sync::{Arc, LazyLock};

use ::redis::{Arg, Cmd, FromRedisValue, RedisResult, Script, ToRedisArgs, Value};
use tracing::Instrument;

use super::pool::{Req, unavailable};
use super::{Inner, RedisStore};
use crate::store::StoreError;

/// A script that runs many requests in one invocation: its merged form
/// (scripts.rs, `merged`) takes `ARGV[1]` = how many, then per request
/// its key count, its argument count and its arguments, with every
/// request's keys one after another in KEYS; it answers an array with
/// two elements per request: 1 and its answer, or 0 and the error its
/// run raised (the others still ran).
pub(super) type Merge = LazyLock<Script>;

/// One request of a [`Merge`]d script: its KEYS and ARGV as the single
/// script would take them, each list written as one buffer (a [`Cmd`]
/// used as an argument list), so the invocation copies them once.
#[derive(Default)]
pub(super) struct Part {
    keys: Cmd,
    args: Cmd,
}

impl Part {
    pub(super) fn key(&mut self, key: impl ToRedisArgs) -> &mut Self {
        self.keys.arg(key);
        self
    }

    pub(super) fn arg(&mut self, arg: impl ToRedisArgs) -> &mut Self {
        self.args.arg(arg);
        self
    }
}

/// Each argument of an argument list, in order.
fn each_arg(list: &Cmd) -> impl Iterator<Item = &[u8]> {
    list.args_iter().filter_map(|a| match a {
        Arg::Simple(a) => Some(a),
        _ => None,
    })
}

/// The EVALSHA of a merged script for `parts` (see [`Merge`]).
fn merged_invocation(script: &Script, parts: &[Part]) -> Cmd {
    let mut c = ::redis::cmd("EVALSHA");
    c.arg(script.get_hash()).arg(
        parts
            .iter()
            .map(|p| p.keys.args_iter().len())
            .sum::<usize>(),
    );
    for p in parts {
        for k in each_arg(&p.keys) {
            c.arg(k);
        }
    }
    c.arg(parts.len());
    for p in parts {
        c.arg(p.keys.args_iter().len())
            .arg(p.args.args_iter().len());
        for a in each_arg(&p.args) {
            c.arg(a);
        }
    }
    c
}

/// Requests of one merged script in one invocation at most: one
/// invocation holds Redis for every request in it (about 10 µs each).
const MERGE_MAX: usize = 64;

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
        self.queue(Work::Script(inv)).await
    }

    /// Queue `work` for the next pipeline and wait for its answer.
    async fn queue<T: FromRedisValue>(&self, work: Work) -> Result<T, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.batcher()
            .send(Job { work, reply })
            .map_err(|_| StoreError("redis: batching stopped".into()))?;
        let v = answer
            .await
            .map_err(|_| StoreError("redis: batching stopped".into()))??;
        T::from_redis_value(v).map_err(unavailable)
    }

    /// The batching task's queue; the task starts with the first request.
    fn batcher(&self) -> &tokio::sync::mpsc::UnboundedSender<Job> {
        self.inner.batch.get_or_init(|| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            // Its own span: it serves every caller, not the first one.
            let span = tracing::info_span!(parent: None, "redis_batches");
            tokio::spawn(batch_loop(Arc::downgrade(&self.inner), rx).instrument(span));
            tx
        })
    }

    /// Run one request of a merged script (see [`Merge`]): it goes with
    /// the other requests of that script waiting for the same pipeline, in
    /// one invocation. Its answer is what the single script would answer.
    pub(super) async fn merged<T: FromRedisValue>(
        &self,
        script: &'static Merge,
        part: Part,
    ) -> Result<T, StoreError> {
        self.queue(Work::Merged(script, part)).await
    }

    /// Run a batch of scripts as one pipeline and answer each: the single
    /// invocations as they are, the requests of each merged script in
    /// invocations of up to [`MERGE_MAX`].
    async fn run_batch(&self, jobs: Vec<Job>) {
        let mut pipe = ::redis::pipe();
        pipe.ignore_errors();
        // Per command of the pipeline: how to run it again after a
        // NOSCRIPT, and the replies it answers.
        let mut sent: Vec<(Again, Target)> = Vec::new();
        let mut merged: Vec<(&'static Merge, Vec<Part>, Vec<Reply>)> = Vec::new();
        for j in jobs {
            match j.work {
                Work::Script(inv) => {
                    pipe.invoke_script(&inv);
                    sent.push((Again::Invoke(inv), Target::One(j.reply)));
                }
                Work::Merged(script, part) => {
                    match merged.iter_mut().find(|(s, _, _)| std::ptr::eq(*s, script)) {
                        Some((_, parts, replies)) => {
                            parts.push(part);
                            replies.push(j.reply);
                        }
                        None => merged.push((script, vec![part], vec![j.reply])),
                    }
                }
            }
        }
        for (script, parts, replies) in merged {
            let mut replies = replies.into_iter();
            for chunk in parts.chunks(MERGE_MAX) {
                pipe.add_command(merged_invocation(script, chunk));
                let chunk_replies = replies.by_ref().take(chunk.len()).collect();
                sent.push((Again::Load(script), Target::Many(chunk_replies)));
            }
        }
        let results: Vec<RedisResult<Value>> = match self.run(Req::Pipe(&pipe)).await {
            Ok(r) => r,
            Err(e) => {
                for (_, t) in sent {
                    t.answer(Err(e.clone()));
                }
                return;
            }
        };
        let mut results = results.into_iter();
        for ((again, t), cmd) in sent.into_iter().zip(pipe.cmd_iter()) {
            let r = match results.next() {
                Some(Err(e))
                    if e.kind()
                        == ::redis::ErrorKind::Server(::redis::ServerErrorKind::NoScript) =>
                {
                    // Loads the script and runs it again.
                    match self.inner.pool.get().await {
                        Ok(mut c) => match again {
                            Again::Invoke(inv) => {
                                inv.invoke_async(&mut c.conn).await.map_err(unavailable)
                            }
                            Again::Load(script) => match script.load_async(&mut c.conn).await {
                                Ok(_) => cmd.query_async(&mut c.conn).await.map_err(unavailable),
                                Err(e) => Err(unavailable(e)),
                            },
                        },
                        Err(e) => Err(unavailable(e)),
                    }
                }
                Some(Err(e)) => Err(unavailable(e)),
                Some(Ok(v)) => Ok(v),
                None => Err(StoreError("redis: a pipeline answer is missing".into())),
            };
            t.answer(r);
        }
    }
}

/// How a pipeline's command runs again after a NOSCRIPT (Redis restarted
/// and lost its scripts).
enum Again {
    /// A single script's invocation: it loads the script itself.
    Invoke(::redis::ScriptInvocation<'static>),
    /// A merged script's: load it, then send the same command again.
    Load(&'static Merge),
}

/// One request's two elements of a merged script's answer
/// (`lua/merge.lua`): 1 and its answer, or 0 and the error its run raised.
fn merged_answer(ok: Value, v: Value) -> Result<Value, StoreError> {
    match ok {
        Value::Int(1) => Ok(v),
        Value::Int(0) => {
            let e = String::from_redis_value(v).unwrap_or_else(|e| e.to_string());
            Err(StoreError(format!("redis: {e}")))
        }
        other => Err(StoreError(format!(
            "redis: a merged script answered {other:?}, {v:?} for a request"
        ))),
    }
}

type Reply = tokio::sync::oneshot::Sender<Result<Value, StoreError>>;

/// Whom an invocation's answer goes to.
enum Target {
    /// A single script's caller.
    One(Reply),
    /// A merged script's callers, in the order of their requests: each
    /// gets its element of the answer.
    Many(Vec<Reply>),
}

impl Target {
    fn answer(self, r: Result<Value, StoreError>) {
        match self {
            Target::One(reply) => {
                let _ = reply.send(r);
            }
            Target::Many(replies) => match r {
                Ok(Value::Array(values)) if values.len() == 2 * replies.len() => {
                    let mut values = values.into_iter();
                    for reply in replies {
                        let (Some(ok), Some(v)) = (values.next(), values.next()) else {
                            break;
                        };
                        let _ = reply.send(merged_answer(ok, v));
                    }
                }
                Ok(other) => {
                    let e = StoreError(format!(
                        "redis: a merged script answered {} requests with {other:?}",
                        replies.len()
                    ));
                    for reply in replies {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
                Err(e) => {
                    for reply in replies {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            },
        }
    }
}

/// Scripts in one pipeline at most.
const BATCH_MAX: usize = 256;

/// Pipelines out at once.
const BATCHES_IN_FLIGHT: usize = 4;

/// A request waiting for its pipeline, and where its answer goes.
pub(super) struct Job {
    work: Work,
    reply: Reply,
}

enum Work {
    /// A script invocation of its own.
    Script(::redis::ScriptInvocation<'static>),
    /// A request that runs with the others of its script (see [`Merge`]).
    Merged(&'static Merge, Part),
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
