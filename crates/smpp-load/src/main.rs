//! `smpp-load`, the ESME load generator: bind, submit, match receipts,
//! print a summary.
//!
//! ```text
//! smpp-load --host H --port P -u USER -p PASS [--binds N] [--window W]
//!           [--rate R] [--count N | --duration S] [--dlr] [--long] [--ucs2]
//!           [--json] [--bind-mode trx|tx] [--dlr-timeout S]
//!           [--response-timeout S] [--source ADDR] [--destination PREFIX]
//!           [--text T] [--hold S] [--intervals FILE [--interval S]]
//!           [--threads N]
//! ```
//!
//! Without `--count` or `--duration` it sends 10,000 messages. `--rate` is
//! total submit_sm per second over all binds (0: as fast as the windows
//! allow). `--long` sends ~300-character texts as concatenated parts with
//! an 8-bit UDH, each part its own submit_sm; `--ucs2` sends text that
//! needs UCS-2 (data_coding 8). `--bind-mode tx --dlr` adds one receiver
//! bind per transmitter. After the last message it waits for every
//! response, then (with `--dlr`) for receipts up to `--dlr-timeout` seconds
//! after the last submit_sm_resp, then unbinds. `--hold S` keeps every
//! bind up and idle S seconds once all are bound, before the first submit
//! (`--count 0 --hold S`: bind, idle, unbind; bench/memory.sh measures
//! what idle binds cost the server that way). `--intervals FILE` writes
//! the latency of each `--interval` seconds (10) of the run to a CSV file
//! as it goes (`smpp_load::intervals`; bench/soak.sh). Ctrl-C once stops
//! submitting (the summary still follows); twice stops waiting for
//! receipts. Logs go to stderr (`RUST_LOG`, default `warn`); stdout has
//! only the summary.
//!
//! # Exit status
//!
//! - 0: done; every accepted message that asked for a receipt got one.
//! - 1: a bind was refused (stderr says `bind refused: ESME_RINVPASWD`),
//!   a connection failed, or a session dropped during the run.
//! - 2: `lost > 0`: an accepted message got no receipt within
//!   `--dlr-timeout`.
//! - 64: bad command line.
//!
//! Submit errors (ESME_RTHROTTLED and the like) do not change the exit
//! status: they are counted in `errors`.
//!
//! # JSON summary (`--json`)
//!
//! One object on one line. Fields are only ever added, never renamed.
//!
//! | field | meaning |
//! |---|---|
//! | `binds`, `window`, `bind_mode`, `rate` | the run's settings (`rate` 0: flat out) |
//! | `messages` | messages started (a long message counts once) |
//! | `sent` | submit_sm sent (each part of a long message counts) |
//! | `ok` | submit_sm_resp with ESME_ROK |
//! | `errors` | other statuses: `{"ESME_RTHROTTLED": n, "0x00000400": n}` |
//! | `timeouts` | submit_sm with no response within `--response-timeout` |
//! | `failed` | submit_sm whose session closed before the response |
//! | `disconnects` | sessions that closed before the run unbound them |
//! | `elapsed_s` | all binds up → last submit_sm_resp, seconds |
//! | `submit_per_s` | `ok / elapsed_s` |
//! | `submit_latency_ms` | `{"p50","p90","p99","max"}`, submit_sm → submit_sm_resp, ms (µs resolution) |
//! | `dlr_requested` | accepted submits that asked for a receipt (`ok` with `--dlr`) |
//! | `dlr_received` | final receipts received (duplicates and unmatched included) |
//! | `dlr_matched` | receipts matched to a submit of this run |
//! | `dlr_elapsed_s` | all binds up → last matched receipt, seconds |
//! | `dlr_per_s` | `dlr_matched / dlr_elapsed_s` |
//! | `dlr_latency_ms` | `{"p50","p90","p99","max"}`, submit_sm → receipt, ms |
//! | `dlr_by_stat` | final receipts by `stat:` name: `{"DELIVRD": n, "UNDELIV": n}` |
//! | `lost` | `dlr_requested` with no receipt by the end of the wait |
//! | `duplicates` | second and later receipts for one message id |
//! | `dlr_unmatched` | receipts for ids no submit of this run got (an earlier run's) |
//! | `dlr_intermediate` | intermediate notifications (not matched) |
//! | `dlr_invalid` | receipts with no readable id or state |
//! | `mo` | deliver_sm / data_sm that were not receipts |
//!
//! Receipts are matched by the receipted_message_id TLV, else the text's
//! `id:`, to the submit_sm_resp message_id (trimmed, case-insensitive), on
//! whichever bind they arrive, including before their submit_sm_resp.

/// mimalloc, as tern: benchmarks count this process's CPU too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::Parser;
use smpp_load::{Args, EXIT_CONNECTION, EXIT_USAGE, Stop};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if let Err(e) = args.validate() {
        eprintln!("smpp-load: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads as usize)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("smpp-load: cannot start the runtime: {e}");
            return ExitCode::from(EXIT_CONNECTION);
        }
    };
    let result = runtime.block_on(async {
        let stop = Stop::new();
        let on_signal = stop.clone();
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                if on_signal.request() == 1 {
                    eprintln!("smpp-load: stopping; Ctrl-C again to stop waiting for receipts");
                }
            }
        });
        smpp_load::run_until(&args, stop).await
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(summary) => {
            if args.json {
                println!("{}", summary.to_json());
            } else {
                print!("{summary}");
            }
            ExitCode::from(summary.exit_code())
        }
        Err(e) => {
            eprintln!("smpp-load: {e}");
            ExitCode::from(EXIT_CONNECTION)
        }
    }
}
