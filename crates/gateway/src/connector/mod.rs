//! Connectors: SMPP clients to the upstream SMSCs, one task per
//! `sessions` of each `[connector:*]`.
//!
//! A connector session binds (transceiver, or a transmitter and a
//! receiver), reconnects with a doubling back-off, takes messages from its
//! queue in the store, splits long content per the connector's `split`,
//! submits each part within the window and the `submit_throughput` pace,
//! and settles each message in the store: sent (with its parts' upstream
//! ids, so receipts can find it), retried later on a temporary error
//! with a back-off that grows with the message's age, 1 s to 60 s
//! (ESME_RTHROTTLED also slows the pace), or failed with a refund on a
//! permanent one.
//!
//! A message moves on to the next connector of its route when its route
//! says so (`reroute_on`, `failover_after`): [`reroute`].
//!
//! Receipts and MO arriving on these sessions are handled by [`inbound`]:
//! stored (receipts matched to their message, MO routed to a user's
//! delivery queue) before they are answered.
//!
//! [`Connectors`] keeps the running connectors in step with the
//! configuration (SIGHUP): added ones start, removed ones drain (their
//! in-flight submits answered and settled; what waits in their queue
//! stays in the store) and stop, changed ones stop the same way and start
//! again once their old sessions are gone (a session's consumer name is
//! its index: old and new must not take at once), unchanged ones are left
//! alone, binds and all.

mod expiry;
pub mod inbound;
mod pace;
mod reroute;
mod worker;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{Instrument, info, info_span};

use crate::config::{Config, Connector};
use crate::context::Context;
use crate::store::Store;

pub use pace::Pace;

/// The connectors running in this process, by name.
pub struct Connectors<S> {
    ctx: Arc<Context<S>>,
    running: BTreeMap<String, Running>,
    /// Sessions of removed or changed connectors, stopping.
    draining: Vec<JoinHandle<()>>,
}

/// One connector's sessions.
struct Running {
    config: Connector,
    /// Turns true to stop this connector alone.
    stop: Arc<watch::Sender<bool>>,
    tasks: Vec<JoinHandle<()>>,
}

/// What a reconcile did, by connector name.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciled {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl<S: Store + Clone> Connectors<S> {
    /// Start every configured connector's sessions, each in its span.
    /// They stop at the context's connector shutdown, after settling what
    /// they have in flight.
    pub fn start(ctx: &Arc<Context<S>>) -> Connectors<S> {
        let mut me = Connectors {
            ctx: ctx.clone(),
            running: BTreeMap::new(),
            draining: Vec::new(),
        };
        let config = ctx.config.load_full();
        for c in config.connectors.values() {
            let r = me.spawn(c, None);
            me.running.insert(c.name.clone(), r);
        }
        me
    }

    /// The first step of a reload, before the new configuration is swapped
    /// in: start the connectors `config` adds, so that no route of it
    /// names a connector without sessions.
    pub fn start_added(&mut self, config: &Config) -> Vec<String> {
        let mut added = Vec::new();
        for c in config.connectors.values() {
            if !self.running.contains_key(&c.name) {
                let r = self.spawn(c, None);
                self.running.insert(c.name.clone(), r);
                added.push(c.name.clone());
            }
        }
        added
    }

    /// The second step, once `config` is swapped in (no route names a
    /// removed connector any more): stop the connectors it removes, and
    /// restart those it changes.
    pub fn stop_removed_and_restart_changed(
        &mut self,
        config: &Config,
    ) -> (Vec<String>, Vec<String>) {
        let (mut removed, mut changed) = (Vec::new(), Vec::new());
        let names: Vec<String> = self.running.keys().cloned().collect();
        for name in names {
            match config.connectors.get(&name) {
                None => {
                    if let Some(r) = self.running.remove(&name) {
                        r.stop.send_replace(true);
                        self.draining.extend(r.tasks);
                        removed.push(name);
                    }
                }
                Some(c) if self.running.get(&name).is_some_and(|r| r.config != *c) => {
                    if let Some(old) = self.running.remove(&name) {
                        old.stop.send_replace(true);
                        // The new sessions start once the old are gone.
                        let (gone_tx, gone) = watch::channel(false);
                        let wait = tokio::spawn(async move {
                            for t in old.tasks {
                                let _ = t.await;
                            }
                            gone_tx.send_replace(true);
                        });
                        self.draining.push(wait);
                        let r = self.spawn(c, Some(gone));
                        self.running.insert(name.clone(), r);
                        changed.push(name);
                    }
                }
                Some(_) => {}
            }
        }
        (removed, changed)
    }

    /// Start `c`'s sessions; with `after`, each waits for it to turn true
    /// first (the sessions of the connector's previous configuration
    /// have stopped).
    fn spawn(&self, c: &Connector, after: Option<watch::Receiver<bool>>) -> Running {
        let (stop, stop_rx) = watch::channel(false);
        let stop = Arc::new(stop);
        // This connector stops at the process's connector shutdown too.
        let mut global = self.ctx.shutdown.connectors();
        let forward = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = global.wait_for(|s| *s) => { forward.send_replace(true); }
                _ = forward.closed() => {}
            }
        });
        let pace = Arc::new(Pace::new(c.submit_throughput));
        let joiner = Arc::new(inbound::Joiner::default());
        let config = Arc::new(c.clone());
        let mut tasks = Vec::new();
        for index in 0..c.sessions {
            let span = info_span!("connector", connector = %c.name, session = index);
            let session = worker::run(
                self.ctx.clone(),
                config.clone(),
                index,
                pace.clone(),
                joiner.clone(),
                stop_rx.clone(),
            );
            let mut after = after.clone();
            let mut stopped = stop_rx.clone();
            let task = async move {
                if let Some(after) = &mut after {
                    tokio::select! {
                        _ = after.wait_for(|gone| *gone) => {}
                        _ = stopped.wait_for(|s| *s) => return,
                    }
                }
                session.await;
            };
            tasks.push(tokio::spawn(task.instrument(span)));
        }
        // failover_after: what waits while it is down moves on.
        let consumer = format!("{}-reroute", self.ctx.config.load().smpp_server.id);
        let span = info_span!("connector", connector = %c.name, session = "reroute");
        tasks.push(tokio::spawn(
            reroute::watch(self.ctx.clone(), c.name.clone(), consumer, stop_rx.clone())
                .instrument(span),
        ));
        // What is past its validity or its receipt wait ends.
        let span = info_span!("connector", connector = %c.name, session = "expiry");
        tasks.push(tokio::spawn(
            expiry::sweep(self.ctx.clone(), config.clone(), stop_rx.clone()).instrument(span),
        ));
        Running {
            config: c.clone(),
            stop,
            tasks,
        }
    }

    /// After the connectors' shutdown: wait for every session, running or
    /// draining, up to `limit` each.
    pub async fn join(self, limit: Duration) {
        let all = self
            .running
            .into_values()
            .flat_map(|r| r.tasks)
            .chain(self.draining);
        for t in all {
            let _ = tokio::time::timeout(limit, t).await;
        }
    }
}

impl Reconciled {
    /// Log what changed (nothing when nothing did).
    pub fn log(&self) {
        if !(self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()) {
            info!(
                added = ?self.added,
                removed = ?self.removed,
                changed = ?self.changed,
                "connectors reconciled"
            );
        }
    }
}

/// The key an upstream message id is mapped under, read per `format`:
/// with `hex` or `dec` its value (so `00000ABD` in hex and `2749` in
/// decimal are one key), with `auto` its normalised text (`auto` cannot
/// tell hex `10` from decimal `10`, so it never compares across bases).
pub fn upstream_id_key(id: &str, format: smpp::receipt::IdFormat) -> String {
    use smpp::receipt::{IdFormat, id_value, normalize_id};
    match format {
        IdFormat::Auto => normalize_id(id, format),
        _ => id_value(id, format)
            .map(|v| v.to_string())
            .unwrap_or_else(|| normalize_id(id, format)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smpp::receipt::IdFormat::*;

    #[test]
    fn ids_are_keyed_by_value_in_a_known_base() {
        assert_eq!(
            upstream_id_key("00000ABD", Hex),
            upstream_id_key("abd", Hex)
        );
        assert_eq!(upstream_id_key("ABD", Hex), upstream_id_key("2749", Dec));
        assert_eq!(upstream_id_key("0042", Dec), upstream_id_key("42", Dec));
        assert_eq!(upstream_id_key("00AB", Auto), upstream_id_key("ab", Auto));
        assert_ne!(upstream_id_key("a", Auto), upstream_id_key("10", Auto));
        assert_eq!(upstream_id_key("Msg-1", Hex), "msg-1");
    }
}
