//! `smpp-load`: an ESME load generator for SMPP 3.4 servers (Tern's
//! front end, `smsc-sim`, or any SMSC), as a library so tests can run it
//! in-process. The binary (`src/main.rs`) documents the command line and
//! the JSON summary.
//!
//! - [`cli`]: the flags.
//! - [`message`]: the submit_sm bodies, built once.
//! - [`pacer`]: `--rate`, one schedule shared by all binds.
//! - [`submit`]: per bind, the sender that keeps the window full and the
//!   collector of submit_sm_resp.
//! - [`deliver`]: per bind, answering deliver_sm / data_sm: receipts, MO.
//! - [`receipts`]: matching receipts to submits across binds.
//! - [`run`]: the phases of a run (bind, submit, wait, unbind).
//! - [`summary`]: counters, the summary and the exit status.
//! - [`intervals`]: `--intervals`, latency per window of the run.
//!
//! ```no_run
//! # async fn demo() -> Result<(), smpp_load::LoadError> {
//! use clap::Parser;
//! let args = smpp_load::Args::parse_from([
//!     "smpp-load", "--port", "2775", "-u", "demo", "-p", "demo", "--count", "1000", "--dlr",
//! ]);
//! let summary = smpp_load::run(&args).await?;
//! assert_eq!(summary.lost, 0);
//! std::process::exit(summary.exit_code().into());
//! # }
//! ```

pub mod cli;
mod deliver;
pub mod intervals;
pub mod message;
pub mod pacer;
pub mod receipts;
pub mod run;
mod submit;
pub mod summary;

pub use cli::Args;
pub use run::{LoadError, Stop, run, run_until};
pub use summary::{EXIT_CONNECTION, EXIT_LOST, EXIT_OK, EXIT_USAGE, Latency, Summary};
