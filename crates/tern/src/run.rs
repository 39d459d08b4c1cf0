//! `tern run`: logging, the runtime, the store, the SMPP front end, the
//! signals that reload and stop it, and what systemd is told meanwhile
//! (`notify.rs`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use gateway::config::{Config, LogFormat, StoreConfig};
use gateway::context::Context;
use gateway::server;
use gateway::store::Store;
use gateway::store::memory::MemoryStore;
use gateway::store::redis::{RedisOptions, RedisStore};
use tokio::signal::unix::{SignalKind, signal};
use tracing::{Instrument, info, info_span, warn};

use crate::notify;

pub fn run(config: Config) -> anyhow::Result<()> {
    init_logging(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(serve(Arc::new(config)))
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn serve(config: Arc<Config>) -> anyhow::Result<()> {
    info!(file = %config.file, version = env!("CARGO_PKG_VERSION"), "tern starting");
    raise_file_limit();
    match &config.store {
        StoreConfig::Memory => {
            let store = MemoryStore::new().with_retention(config.status_retention);
            serve_with(config.clone(), store, true).await
        }
        StoreConfig::Redis { url } => {
            let options = RedisOptions {
                status_retention: config.status_retention,
                ..RedisOptions::default()
            };
            let store = RedisStore::connect(url.expose(), options)
                .with_context(|| format!("{}: [store] url", config.file))?;
            if let Err(e) = store.ping().await {
                // tern serves anyway (submits get ESME_RMSGQFUL) and
                // recovers by itself when Redis is back.
                warn!(error = %e, "redis is not answering yet");
            }
            serve_with(config.clone(), store, false).await
        }
    }
}

/// Raise the soft limit on open files to the hard one: every ESME
/// connection, connector session and HTTP connection is a descriptor, and
/// a shell's soft limit (often 1024) is far below what tern serves. Under
/// systemd the unit sets both (`LimitNOFILE`), and this changes nothing.
fn raise_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => info!(limit, "open files limit"),
        Err(e) => warn!(error = %e, "could not raise the open files limit"),
    }
}

/// `drain`: the store dies with the process (memory), so on SIGTERM the
/// connectors first send what is queued (up to [`DRAIN_LIMIT`]).
async fn serve_with<S: Store + Clone>(
    config: Arc<Config>,
    store: S,
    drain: bool,
) -> anyhow::Result<()> {
    // Signals first: once the port answers, SIGHUP must reload, not kill.
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let ctx = loop {
        match Context::new(config.clone(), store.clone()).await {
            Ok(g) => break g,
            Err(e) => {
                warn!(error = %e, "initialising credit in the store; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let plain = ctx.accounts.plain_text_users();
    if !plain.is_empty() {
        warn!(users = ?plain, "plain-text passwords in the configuration; store argon2id hashes (tern hash-password)");
    }
    let listener = server::listen(&config).await.with_context(|| {
        format!(
            "listening on {}:{}",
            config.smpp_server.bind, config.smpp_server.port
        )
    })?;
    let tls_listener = server::listen_tls(&config).await.with_context(|| {
        format!(
            "listening on {}:{} ([smpp-server] tls_port)",
            config.smpp_server.bind,
            config.smpp_server.tls.as_ref().map_or(0, |t| t.port)
        )
    })?;
    let http_listener = gateway::http::listen(&config).await.with_context(|| {
        format!(
            "listening on {}:{} ([http-api])",
            config.http_api.bind, config.http_api.port
        )
    })?;
    let server =
        tokio::spawn(server::serve(ctx.clone(), listener).instrument(info_span!("smpp_server")));
    let tls_server = tls_listener.map(|l| {
        tokio::spawn(server::serve_tls(ctx.clone(), l).instrument(info_span!("smpp_server_tls")))
    });
    let http = tokio::spawn(gateway::http::serve(ctx.clone(), http_listener));
    let mut connectors = gateway::connector::Connectors::start(&ctx);
    let _delivery = gateway::delivery::spawn(&ctx);
    let callbacks = gateway::callbacks::spawn(&ctx).context("starting the HTTP callback client")?;
    // systemd (notify.rs): READY once the listeners are bound (above) and
    // the store answers; the watchdog is pinged from this loop.
    let serving = format!(
        "serving SMPP on {}:{}, HTTP on {}:{}",
        config.smpp_server.bind,
        config.smpp_server.port,
        config.http_api.bind,
        config.http_api.port
    );
    let mut watchdog = notify::Watchdog::from_env();
    if let Some(period) = watchdog.period() {
        info!(
            every_ms = period.as_millis() as u64,
            "pinging the systemd watchdog"
        );
    }
    let store_answers = store_answers(&ctx.store);
    tokio::pin!(store_answers);
    let mut ready = false;
    loop {
        tokio::select! {
            _ = term.recv() => { info!("SIGTERM: stopping"); break; }
            _ = int.recv() => { info!("SIGINT: stopping"); break; }
            _ = hup.recv() => {
                if ready {
                    notify::reloading();
                }
                watchdog.keep_alive(reload(&ctx, &config.file, &mut connectors)).await;
                if ready {
                    notify::ready(&serving);
                }
            }
            _ = &mut store_answers, if !ready => {
                ready = true;
                notify::ready(&serving);
            }
            _ = watchdog.ping_when_due() => {}
        }
    }
    notify::stopping("stopping: unbinding ESMEs, settling connectors");
    ctx.shutdown.stop_front_end();
    let _ = server.await;
    if let Some(t) = tls_server {
        let _ = t.await;
    }
    // Requests in progress finish; a client holding a connection open
    // does not hold up the stop.
    let _ = tokio::time::timeout(Duration::from_secs(10), http).await;
    // Sessions finish their submits and unbind; give them a moment.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while ctx.accounts.total_binds() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if drain {
        let left = drain_queues(&ctx).await;
        if left > 0 {
            warn!(
                messages = left,
                "the memory store's queues were not empty at exit; these messages are lost"
            );
        }
    }
    // Connectors settle their in-flight submits, then unbind upstream.
    ctx.shutdown.stop_connectors();
    connectors.join(Duration::from_secs(70)).await;
    // Callbacks out get their attempt's time (the sender bounds it).
    let _ = tokio::time::timeout(Duration::from_secs(15), callbacks).await;
    info!("tern stopped");
    Ok(())
}

/// Resolves once the store answers a ping, trying every second meanwhile
/// (tern serves already: submits get ESME_RMSGQFUL until then).
async fn store_answers<S: Store>(store: &S) {
    let mut said = false;
    while let Err(e) = store.ping().await {
        if !said {
            notify::status(&format!("waiting for the store: {e}"));
            said = true;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// SIGHUP: read the file again; swap it in whole, or keep the old one.
/// Connectors follow (see [`gateway::connector::Connectors`]): the new
/// file's connectors start before its routes are swapped in, and the
/// connectors it removes stop only after, so no route ever names a
/// connector without sessions.
async fn reload<S: Store + Clone>(
    ctx: &Context<S>,
    file: &str,
    connectors: &mut gateway::connector::Connectors<S>,
) {
    info!(file, "SIGHUP: reloading the configuration");
    match Config::load(std::path::Path::new(file)) {
        Ok(new) => {
            let new = Arc::new(new);
            let added = connectors.start_added(&new);
            match ctx.reload(new.clone()).await {
                Ok(needs_restart) => {
                    for what in needs_restart {
                        warn!(setting = %what, "changed; takes effect at the next start");
                    }
                    let (removed, changed) = connectors.stop_removed_and_restart_changed(&new);
                    gateway::connector::Reconciled {
                        added,
                        removed,
                        changed,
                    }
                    .log();
                    info!("configuration reloaded");
                }
                Err(e) => {
                    // The old configuration stays: so do its connectors.
                    let _ = connectors.stop_removed_and_restart_changed(&ctx.config.load());
                    warn!(error = %e, "reload failed; the previous configuration stays");
                }
            }
        }
        Err(errors) => {
            for e in &errors.0 {
                warn!(error = %e, "configuration rejected");
            }
            warn!("reload rejected; the previous configuration stays");
        }
    }
}

/// How long a stopping tern on the memory store waits for its queues.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// Wait until every connector's queue is empty or [`DRAIN_LIMIT`] passes;
/// the messages still queued.
async fn drain_queues<S: Store>(ctx: &Context<S>) -> u64 {
    let config = ctx.config.load_full();
    let deadline = tokio::time::Instant::now() + DRAIN_LIMIT;
    loop {
        let mut left = 0;
        for name in config.connectors.keys() {
            left += ctx.store.queue_depth(name).await.unwrap_or(0);
        }
        if left == 0 || tokio::time::Instant::now() >= deadline {
            return left;
        }
        info!(messages = left, "sending what is queued before stopping");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
