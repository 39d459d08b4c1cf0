//! `smsc-sim`: an upstream SMSC for tests, demos and benchmarks.
//!
//! Binds (optionally checked against --system-id/--password), message ids
//! in hex or decimal, receipts after a delay with a mix of outcomes (one per
//! submit_sm, so one per part of a long message), injected errors and
//! throttling, MO at a rate, query_sm and cancel_sm, dropped connections,
//! and receipts kept for a system_id while it has no receiver bound; over
//! TLS with --tls-cert/--tls-key.
//!
//! Counters are printed as one JSON line on stdout on SIGUSR1 and on exit
//! (SIGINT or SIGTERM, exit 0). Logs go to stderr.

/// mimalloc, as tern: benchmarks count this process's CPU too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
mod counters;
mod server;
mod sim;

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{Instrument, info, info_span, warn};

fn main() -> anyhow::Result<()> {
    let args = cli::Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&args.log).unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(run(args))
}

async fn run(args: cli::Args) -> anyhow::Result<()> {
    // Signals first: once the port answers, SIGUSR1 must print, not kill.
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let tls = acceptor(&args)?;
    let addr = format!("{}:{}", args.host, args.port);
    let listener = TcpListener::bind(&addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    info!(addr = %listener.local_addr()?, tls = tls.is_some(), "smsc-sim listening");
    let sim = sim::Sim::new(args);
    tokio::spawn(sim.clone().run_delayed().instrument(info_span!("delayed")));
    if sim.args.mo_rate > 0.0 {
        tokio::spawn(server::run_mo(sim.clone(), sim.args.mo_rate).instrument(info_span!("mo")));
    }
    let mut n = 0u64;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    n += 1;
                    // The session's span: its connection task and, once
                    // bound as a receiver, its deliverer carry it too.
                    let span = info_span!("session", %peer, system_id = tracing::field::Empty);
                    tokio::spawn(
                        server::serve(sim.clone(), stream, peer.to_string(), n, tls.clone()).instrument(span),
                    );
                }
                Err(e) => warn!(error = %e, "accept failed"),
            },
            _ = usr1.recv() => print_counters(&sim),
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    print_counters(&sim);
    Ok(())
}

/// The TLS acceptor of --tls-cert/--tls-key, if given.
fn acceptor(args: &cli::Args) -> anyhow::Result<Option<smpp_session::tls::TlsAcceptor>> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Ok(None);
    };
    let read =
        |p: &std::path::Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let acceptor = smpp_session::tls::acceptor(
        &read(cert)?,
        &read(key)?,
        &cert.display().to_string(),
        &key.display().to_string(),
    )?;
    Ok(Some(acceptor))
}

fn print_counters(sim: &Arc<sim::Sim>) {
    println!("{}", sim.counters.to_json());
}
