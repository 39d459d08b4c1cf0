//! The callback sender: the store's callback queue (receipts of messages
//! sent over HTTP with a `dlr-url`, MO for users with a `mo_url`) goes out
//! as HTTP calls with Jasmin's parameters ([`crate::jasmin`]).
//!
//! - One task takes from the queue (consumer `<[smpp-server] id>-cb`,
//!   stable across restarts: a restarted process at once resends what it
//!   had taken, on redis) while fewer than [`MAX_IN_FLIGHT`] calls are
//!   out; each item is sent by its own task.
//! - At most [`PER_HOST`] calls to one host (scheme, host and port) at a
//!   time; the others wait for the host's slot in this process. A host
//!   whose last call failed is *failing* until one succeeds: of its items
//!   only [`FAILING_HOST_BACKLOG`] wait here, the next go back to the
//!   retry set without a try (counted as an attempt), so a dead endpoint
//!   cannot hold every slot while healthy ones take what they can.
//! - Each attempt has [`ATTEMPT_TIMEOUT`]. A 2xx answer settles the item
//!   for good ([`Store::callbacks_done`], many at once: a task of the
//!   sender's gathers them for [`ACK_LINGER`]): it is never sent again. Any
//!   other answer, a timeout or a connection error puts it in the retry
//!   set ([`Store::retry_callback`]) after [`backoff`] of its attempts;
//!   an item whose next try would come after its expiry (the
//!   connector's `dlr_expiry` for a receipt) is dropped and logged, as
//!   is one that has expired when it is taken.
//! - URLs are logged by host only: a query may carry a customer's token.
//! - At the connectors' shutdown step no more is taken; calls out are
//!   given [`ATTEMPT_TIMEOUT`] to finish. What is left taken is handed
//!   out again at the next start (redis).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::context::Context;
use crate::jasmin::call_of;
use crate::metrics::labels::{CallbackKind, CallbackResult};
use crate::store::{CallMethod, Callback, CallbackTaken, HttpCall, Store, now_us};

/// Calls out at once, over every host.
pub const MAX_IN_FLIGHT: usize = 256;
/// Calls out at once to one host.
pub const PER_HOST: usize = 8;
/// Calls waiting for a failing host (out or waiting for a slot) beyond
/// which a new one is put off.
pub const FAILING_HOST_BACKLOG: usize = 2 * PER_HOST;
/// How long settling an answered callback waits for others to settle
/// with.
pub const ACK_LINGER: Duration = Duration::from_millis(1);
/// The longest one attempt may take, connection included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a take waits for work.
const TAKE_BLOCK: Duration = Duration::from_secs(1);
/// The most taken at once.
const TAKE_MAX: usize = 64;

/// The wait before the next try after `attempts` failed ones: 1 s,
/// doubling, at most 5 minutes.
pub fn backoff(attempts: u32) -> Duration {
    let s = 1u64 << attempts.min(9);
    Duration::from_secs(s.min(300))
}

/// Start the sender. Stops at the connectors' shutdown step.
pub fn spawn<S: Store>(ctx: &Arc<Context<S>>) -> Result<JoinHandle<()>, reqwest::Error> {
    let client = client()?;
    let ctx = ctx.clone();
    let span = info_span!(parent: None, "callbacks");
    Ok(tokio::spawn(run(ctx, client).instrument(span)))
}

/// The HTTP client: a connection pool, rustls with the webpki roots.
fn client() -> Result<reqwest::Client, reqwest::Error> {
    // reqwest's rustls takes the process's crypto provider; install ring
    // unless one is there already (a second install is refused: fine).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .connect_timeout(ATTEMPT_TIMEOUT / 2)
        .pool_max_idle_per_host(PER_HOST)
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(concat!("tern/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Per host: calls waiting (out or for a slot), and the slots.
struct Hosts {
    map: Mutex<HashMap<String, Host>>,
}

struct Host {
    waiting: usize,
    /// Whether its last call failed.
    failing: bool,
    slots: Arc<Semaphore>,
}

impl Hosts {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Host>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A place for one more call to `host`, or None when it is failing
    /// and has [`FAILING_HOST_BACKLOG`] waiting.
    fn enter(self: &Arc<Self>, host: &str) -> Option<(HostGuard, Arc<Semaphore>)> {
        let mut map = self.lock();
        let h = map.entry(host.to_string()).or_insert_with(|| Host {
            waiting: 0,
            failing: false,
            slots: Arc::new(Semaphore::new(PER_HOST)),
        });
        if h.failing && h.waiting >= FAILING_HOST_BACKLOG {
            return None;
        }
        h.waiting += 1;
        let slots = h.slots.clone();
        Some((
            HostGuard {
                hosts: self.clone(),
                host: host.to_string(),
            },
            slots,
        ))
    }
}

/// One call's place at its host; a healthy host is forgotten with its
/// last call.
struct HostGuard {
    hosts: Arc<Hosts>,
    host: String,
}

impl HostGuard {
    /// Record how the call went: the host is failing until one succeeds.
    fn outcome(&self, ok: bool) {
        let mut map = self.hosts.lock();
        if let Some(h) = map.get_mut(&self.host) {
            if h.failing == ok {
                h.failing = !ok;
                if ok {
                    info!(host = self.host, "callbacks to this host answered again");
                }
            }
        }
    }
}

impl Drop for HostGuard {
    fn drop(&mut self) {
        let mut map = self.hosts.lock();
        if let Some(h) = map.get_mut(&self.host) {
            h.waiting = h.waiting.saturating_sub(1);
            // A failing host is remembered while nothing waits for it, so
            // its next items are still held back; a healthy one goes.
            if h.waiting == 0 && !h.failing {
                map.remove(&self.host);
            }
        }
    }
}

async fn run<S: Store>(ctx: Arc<Context<S>>, client: reqwest::Client) {
    let consumer = format!("{}-cb", ctx.config.load().smpp_server.id);
    let mut stop = ctx.shutdown.connectors();
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let hosts = Arc::new(Hosts {
        map: Mutex::new(HashMap::new()),
    });
    let (acks, acked) = tokio::sync::mpsc::unbounded_channel();
    let acker = tokio::spawn(ack(ctx.clone(), acked).in_current_span());
    let mut store_down = false;
    while !*stop.borrow() {
        // Wait for a free slot before taking: what is taken is ours.
        let first = tokio::select! {
            p = in_flight.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stop.changed() => break,
        };
        let room = in_flight.available_permits().min(TAKE_MAX - 1) + 1;
        let got = tokio::select! {
            r = ctx.store.take_callbacks(&consumer, room, TAKE_BLOCK) => r,
            _ = stop.changed() => break,
        };
        let items = match got {
            Ok(items) => {
                if store_down {
                    info!("callback queue readable again");
                    store_down = false;
                }
                items
            }
            Err(e) => {
                if !store_down {
                    warn!(error = %e, "cannot take callbacks; trying again");
                    store_down = true;
                }
                drop(first);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut first = Some(first);
        for item in items {
            let permit = match first.take() {
                Some(p) => p,
                None => match in_flight.clone().acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let (ctx, client, hosts, acks) =
                (ctx.clone(), client.clone(), hosts.clone(), acks.clone());
            tokio::spawn(
                async move { send(&ctx, &client, &hosts, &acks, item, permit).await }
                    .in_current_span(),
            );
        }
    }
    // Calls out get one attempt's time to finish (and settle: a permit
    // comes back once its item is settled).
    let all = u32::try_from(MAX_IN_FLIGHT).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(ATTEMPT_TIMEOUT, in_flight.acquire_many(all)).await;
    drop(acks);
    let _ = acker.await;
    debug!("callback sender stopped");
}

/// An answered item to settle, and its slot, given back once it is.
type Ack = crate::settle::Settled;

/// Settle answered items, many per store call ([`crate::settle::gather`]).
async fn ack<S: Store>(ctx: Arc<Context<S>>, acked: tokio::sync::mpsc::UnboundedReceiver<Ack>) {
    crate::settle::gather(acked, ACK_LINGER, MAX_IN_FLIGHT, |tokens| {
        let ctx = &ctx;
        async move { settle(ctx, &tokens).await }
    })
    .await;
}

/// The outcome of one attempt.
enum Attempt {
    Answered(reqwest::StatusCode),
    Failed(String),
}

/// Send one item and settle it.
async fn send<S: Store>(
    ctx: &Context<S>,
    client: &reqwest::Client,
    hosts: &Arc<Hosts>,
    acks: &tokio::sync::mpsc::UnboundedSender<Ack>,
    c: CallbackTaken,
    permit: OwnedSemaphorePermit,
) {
    let now_ms = now_us() / 1000;
    if c.expires_ms <= now_ms {
        warn!(
            attempts = c.attempts,
            "callback expired before it could be sent; dropped"
        );
        ctx.metrics.callback(kind(&c.item), CallbackResult::Dropped);
        done(ctx, &c.token).await;
        return;
    }
    let Some(call) = call_of(&c.item) else {
        warn!("callback without a destination; dropped");
        ctx.metrics.callback(kind(&c.item), CallbackResult::Dropped);
        done(ctx, &c.token).await;
        return;
    };
    let Ok(url) = reqwest::Url::parse(&call.url) else {
        warn!("callback to a URL that does not parse; dropped");
        ctx.metrics.callback(kind(&c.item), CallbackResult::Dropped);
        done(ctx, &c.token).await;
        return;
    };
    let host = format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    );
    let Some((place, slots)) = hosts.enter(&host) else {
        debug!(host, "host failing with a full backlog; callback put off");
        ctx.metrics.callback(kind(&c.item), CallbackResult::PutOff);
        retry(ctx, &c, backoff(c.attempts), now_ms).await;
        return;
    };
    let attempt = {
        let Ok(_slot) = slots.acquire().await else {
            return;
        };
        match tokio::time::timeout(ATTEMPT_TIMEOUT, request(client, url, &call)).await {
            Ok(Ok(status)) => Attempt::Answered(status),
            Ok(Err(e)) => Attempt::Failed(without_url(e)),
            Err(_) => Attempt::Failed("timed out".into()),
        }
    };
    let ok = matches!(&attempt, Attempt::Answered(s) if s.is_success());
    place.outcome(ok);
    drop(place);
    match attempt {
        Attempt::Answered(status) if status.is_success() => {
            debug!(host, %status, attempts = c.attempts, "callback answered");
            ctx.metrics.callback(kind(&c.item), CallbackResult::Ok);
            if let Callback::Receipt { receipt: r, .. } = &c.item {
                ctx.metrics.receipt(
                    &r.message.user,
                    r.state,
                    r.message.accepted_ms,
                    now_us() / 1000,
                );
            }
            if let Err(tokio::sync::mpsc::error::SendError((token, _))) =
                acks.send((c.token, permit))
            {
                done(ctx, &token).await;
            }
        }
        Attempt::Answered(status) => {
            info!(host, %status, attempts = c.attempts, "callback refused; will retry");
            ctx.metrics.callback(kind(&c.item), CallbackResult::Refused);
            retry(ctx, &c, backoff(c.attempts), now_ms).await;
        }
        Attempt::Failed(why) => {
            info!(
                host,
                why,
                attempts = c.attempts,
                "callback failed; will retry"
            );
            ctx.metrics.callback(kind(&c.item), CallbackResult::Failed);
            retry(ctx, &c, backoff(c.attempts), now_ms).await;
        }
    }
}

/// The `kind` label of a callback: a receipt (dlr-url), or any other call.
fn kind(c: &Callback) -> CallbackKind {
    match c {
        Callback::Submitted { .. } | Callback::Receipt { .. } => CallbackKind::Receipt,
        Callback::Call(_) => CallbackKind::Call,
    }
}

/// One attempt: GET with the parameters in the query, or POST as a form.
async fn request(
    client: &reqwest::Client,
    mut url: reqwest::Url,
    call: &HttpCall,
) -> Result<reqwest::StatusCode, reqwest::Error> {
    let req = match call.method {
        CallMethod::Get => {
            url.query_pairs_mut().extend_pairs(&call.params);
            client.get(url)
        }
        CallMethod::Post => client.post(url).form(&call.params),
    };
    let resp = req.send().await?;
    let status = resp.status();
    // Read the body so the connection goes back to the pool.
    let _ = resp.bytes().await;
    Ok(status)
}

/// A client error's text without its URL (a query may hold a secret).
fn without_url(e: reqwest::Error) -> String {
    e.without_url().to_string()
}

/// Settle one item for good (one that is not sent: expired, or with
/// nowhere to go).
async fn done<S: Store>(ctx: &Context<S>, token: &str) {
    settle(ctx, &[token.to_string()]).await;
}

/// Settle for good, trying the store a few times: an item left taken is
/// sent again after a restart or the reclaim time.
async fn settle<S: Store>(ctx: &Context<S>, tokens: &[String]) {
    for pause in [100u64, 400, 1600] {
        match ctx.store.callbacks_done(tokens).await {
            Ok(()) => return,
            Err(e) => {
                debug!(error = %e, "cannot settle a callback; trying again");
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
        }
    }
    warn!(
        count = tokens.len(),
        "cannot settle callbacks in the store; they may be sent again"
    );
}

/// Back to the retry set after `delay`, or dropped when the next try
/// would come after the item's expiry.
async fn retry<S: Store>(ctx: &Context<S>, c: &CallbackTaken, delay: Duration, now_ms: i64) {
    let due = now_ms.saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
    if due >= c.expires_ms {
        warn!(
            attempts = c.attempts + 1,
            "callback not answered 2xx before its expiry; dropped"
        );
        ctx.metrics.callback(kind(&c.item), CallbackResult::Dropped);
        done(ctx, &c.token).await;
        return;
    }
    for pause in [100u64, 400, 1600] {
        match ctx.store.retry_callback(&c.token, delay).await {
            Ok(()) => return,
            Err(e) => {
                debug!(error = %e, "cannot put a callback back; trying again");
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
        }
    }
    warn!("cannot put a callback back in the store; it is sent again later");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_host_is_remembered_and_held_back_a_healthy_one_forgotten() {
        let hosts = Arc::new(Hosts {
            map: Mutex::new(HashMap::new()),
        });
        let (g, _) = hosts.enter("h").unwrap();
        g.outcome(false);
        drop(g);
        // Nothing waits for it, and it is still failing.
        assert!(hosts.lock()["h"].failing);
        let held: Vec<_> = (0..FAILING_HOST_BACKLOG)
            .map(|_| hosts.enter("h").unwrap())
            .collect();
        assert!(hosts.enter("h").is_none(), "beyond the failing backlog");
        held[0].0.outcome(true);
        assert!(hosts.enter("h").is_some(), "answered again: no limit");
        drop(held);
        assert!(hosts.lock().is_empty(), "a healthy host is forgotten");
    }

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let s: Vec<u64> = (0..12).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(s, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(backoff(u32::MAX).as_secs(), 300);
    }
}
