//! `http-sink`: the customer's side of tern's HTTP callbacks, for
//! benchmarks (bench/callbacks.sh): answers every request `200
//! ACK/Jasmin` on 127.0.0.1:`--port` (any method, any path) and counts
//! them; on SIGUSR1 and at SIGTERM prints `{"calls": N}` on stdout.
//! Loopback only.
//!
//!   http-sink --port 27790

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
#[command(about = "Count HTTP calls and answer each 200 ACK/Jasmin (benchmarks)")]
struct Args {
    /// The loopback port to listen on.
    #[arg(long)]
    port: u16,
}

async fn count(State(calls): State<Arc<AtomicU64>>) -> &'static str {
    calls.fetch_add(1, Ordering::Relaxed);
    "ACK/Jasmin"
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let calls = Arc::new(AtomicU64::new(0));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    let app = Router::new().fallback(count).with_state(calls.clone());
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut term = signal(SignalKind::terminate())?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    loop {
        tokio::select! {
            _ = usr1.recv() => println!("{{\"calls\": {}}}", calls.load(Ordering::Relaxed)),
            _ = term.recv() => break,
        }
    }
    println!("{{\"calls\": {}}}", calls.load(Ordering::Relaxed));
    server.abort();
    Ok(())
}
