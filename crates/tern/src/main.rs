//! The `tern` binary: `tern run`, `tern check-config`, `tern hash-password`.
//!
//! `run` serves the SMPP front end, the connectors to the upstream SMSCs
//! and the way back (receipts and MO to the users' receiver binds) on the
//! configured store. SIGTERM or SIGINT: stop accepting, finish the submits
//! in flight, unbind every ESME, exit 0. Under systemd (`Type=notify`) it
//! reports READY, RELOADING, STOPPING and watchdog pings (`notify.rs`).

mod notify;
mod run;

/// mimalloc: the gateway allocates and frees many small buffers across
/// threads (PDUs, messages, futures); glibc's malloc spent about an eighth
/// of tern's CPU on it (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use clap::{Parser, Subcommand};
use gateway::config::{Config, Password};

#[derive(Parser)]
#[command(
    name = "tern",
    version,
    about = "A multi-tenant SMS gateway speaking SMPP 3.4"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Run {
        #[arg(short, long, default_value = "etc/tern.ini")]
        config: PathBuf,
    },
    /// Check a configuration file: exit 0 when it is sound, 1 with every
    /// error (file, line, section, key) otherwise.
    CheckConfig {
        #[arg(short, long, default_value = "etc/tern.ini")]
        config: PathBuf,
    },
    /// Read a password on stdin (a trailing newline is not part of it) and
    /// print its argon2id PHC string for a [user:*] password.
    HashPassword,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run { config } => match Config::load(&config) {
            Ok(c) => match run::run(c) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("tern: {e:#}");
                    ExitCode::FAILURE
                }
            },
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::CheckConfig { config } => match Config::load(&config) {
            Ok(c) => {
                for u in c.users.values() {
                    if matches!(u.password, Password::Plain(_)) {
                        eprintln!(
                            "{}: [user:{}] password: plain text; store an argon2id hash (tern hash-password)",
                            c.file, u.system_id
                        );
                    }
                }
                println!(
                    "{}: ok ({} users, {} connectors, {} mt-routes, {} mo-routes)",
                    c.file,
                    c.users.len(),
                    c.connectors.len(),
                    c.mt_routes.len(),
                    c.mo_routes.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::HashPassword => match hash_password() {
            Ok(phc) => {
                println!("{phc}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("tern hash-password: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn hash_password() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let password = input.strip_suffix('\n').unwrap_or(&input);
    let password = password.strip_suffix('\r').unwrap_or(password);
    anyhow::ensure!(!password.is_empty(), "empty password on stdin");
    let salt = SaltString::generate(&mut OsRng);
    let phc = argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(phc.to_string())
}
