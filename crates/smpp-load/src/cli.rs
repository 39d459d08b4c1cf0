//! The command line: every flag `smpp-load` takes, parsed with clap derive.
//!
//! This module owns the names, defaults and the cross-flag rules (`--count`
//! and `--duration` exclude each other); it runs nothing.

use std::time::Duration;

use clap::{Parser, ValueEnum};
use smpp_session::BindMode;

/// An SMPP 3.4 ESME load generator: binds, submits as fast as the window
/// (or `--rate`) allows, matches delivery receipts, and prints a summary.
///
/// Exit status: 0 on success, 1 when a bind or connection fails, 2 when a
/// message accepted with `--dlr` got no receipt within `--dlr-timeout`.
#[derive(Debug, Clone, Parser)]
#[command(name = "smpp-load", version, about)]
pub struct Args {
    /// SMSC or gateway host.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// SMSC or gateway SMPP port.
    #[arg(long)]
    pub port: u16,

    /// Speak TLS, trusting the CA certificates of this PEM file.
    #[arg(long)]
    pub tls_ca: Option<std::path::PathBuf>,

    /// The name the server's certificate must carry (with --tls-ca).
    #[arg(long, default_value = "localhost")]
    pub tls_name: String,

    /// system_id to bind with.
    #[arg(short = 'u', long = "user")]
    pub user: String,

    /// Password to bind with.
    #[arg(short = 'p', long = "password")]
    pub password: String,

    /// Parallel binds (sessions) that submit.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub binds: u32,

    /// Outstanding submit_sm per bind.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub window: u32,

    /// Total submit_sm per second over all binds; 0 or absent: flat out.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,

    /// Messages to send in all (a long message counts once, its parts are
    /// each a submit_sm). Default when neither this nor --duration is given: 10000.
    #[arg(long, conflicts_with = "duration")]
    pub count: Option<u64>,

    /// Send for this many seconds instead of a fixed count.
    #[arg(long)]
    pub duration: Option<f64>,

    /// Ask for delivery receipts (registered_delivery 1) and match them.
    #[arg(long)]
    pub dlr: bool,

    /// Send long messages, split into concatenated parts with an 8-bit UDH.
    #[arg(long)]
    pub long: bool,

    /// Send text that needs UCS-2 (data_coding 8).
    #[arg(long)]
    pub ucs2: bool,

    /// Print the summary as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,

    /// trx: transceivers that submit and receive receipts; tx: transmitters,
    /// plus as many receivers when --dlr is given.
    #[arg(long, value_enum, default_value_t = BindModeArg::Trx)]
    pub bind_mode: BindModeArg,

    /// Seconds to wait for outstanding receipts after the last submit_sm_resp.
    #[arg(long, default_value_t = 30.0)]
    pub dlr_timeout: f64,

    /// Seconds a submit_sm may wait for its response before it counts as a timeout.
    #[arg(long, default_value_t = 60.0)]
    pub response_timeout: f64,

    /// source_addr (alphanumeric unless all digits).
    #[arg(long, default_value = "smpp-load")]
    pub source: String,

    /// destination_addr prefix; digits are appended so that the destination
    /// varies from one message to the next.
    #[arg(long, default_value = "33600")]
    pub destination: String,

    /// Message text instead of the built-in one (UCS-2 when it is not GSM
    /// 03.38 text or --ucs2 is given).
    #[arg(long)]
    pub text: Option<String>,

    /// Once every bind is up, keep them all bound and idle this many
    /// seconds before submitting (Ctrl-C ends the hold). With `--count 0`:
    /// bind, idle, unbind; for measuring what idle sessions cost a server.
    #[arg(long, default_value_t = 0.0)]
    pub hold: f64,

    /// Write the latency of each window of the run (`--interval` seconds)
    /// to this CSV file as the run goes (the columns: the `intervals`
    /// module's docs).
    #[arg(long)]
    pub intervals: Option<std::path::PathBuf>,

    /// Seconds per window of `--intervals`.
    #[arg(long, default_value_t = 10.0)]
    pub interval: f64,

    /// Tokio worker threads.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub threads: u32,
}

/// `--bind-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BindModeArg {
    Trx,
    Tx,
}

impl BindModeArg {
    pub fn mode(self) -> BindMode {
        match self {
            BindModeArg::Trx => BindMode::Transceiver,
            BindModeArg::Tx => BindMode::Transmitter,
        }
    }
}

/// The default count when neither --count nor --duration is given.
pub const DEFAULT_COUNT: u64 = 10_000;

impl Args {
    /// Check what clap cannot: finite, non-negative durations and a
    /// non-empty destination prefix of digits.
    pub fn validate(&self) -> Result<(), String> {
        let seconds = |name: &str, v: f64| {
            if (0.0..1.0e9).contains(&v) {
                Ok(())
            } else {
                Err(format!("{name} must be a number of seconds, got {v}"))
            }
        };
        if let Some(d) = self.duration {
            seconds("--duration", d)?;
        }
        seconds("--dlr-timeout", self.dlr_timeout)?;
        seconds("--hold", self.hold)?;
        seconds("--response-timeout", self.response_timeout)?;
        seconds("--interval", self.interval)?;
        if self.interval < 0.1 {
            return Err("--interval must be at least 0.1 seconds".into());
        }
        if self.response_timeout <= 0.0 {
            return Err("--response-timeout must be more than 0".into());
        }
        if !self.destination.bytes().all(|b| b.is_ascii_digit()) || self.destination.len() > 14 {
            return Err("--destination must be at most 14 digits".into());
        }
        if self.source.is_empty() || self.source.len() > 20 {
            return Err("--source must be 1 to 20 characters".into());
        }
        if self.text.as_deref().is_some_and(str::is_empty) {
            return Err("--text must not be empty".into());
        }
        Ok(())
    }

    /// Messages to send, or None for a --duration run.
    pub fn message_limit(&self) -> Option<u64> {
        match (self.count, self.duration) {
            (Some(n), _) => Some(n),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_COUNT),
        }
    }

    pub fn duration(&self) -> Option<Duration> {
        self.duration.map(Duration::from_secs_f64)
    }

    pub fn hold(&self) -> Duration {
        Duration::from_secs_f64(self.hold)
    }

    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(self.interval)
    }

    pub fn dlr_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.dlr_timeout)
    }

    pub fn response_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.response_timeout)
    }

    /// `host:port` to connect to.
    pub fn address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("smpp-load").chain(args.iter().copied()))
    }

    #[test]
    fn defaults() {
        let a = parse(&["--port", "2775", "-u", "demo", "-p", "pw"]).unwrap();
        assert_eq!(a.host, "127.0.0.1");
        assert_eq!(a.port, 2775);
        assert_eq!(a.user, "demo");
        assert_eq!(a.password, "pw");
        assert_eq!(a.binds, 1);
        assert_eq!(a.window, 64);
        assert_eq!(a.rate, 0);
        assert_eq!(a.message_limit(), Some(DEFAULT_COUNT));
        assert!(!a.dlr && !a.long && !a.ucs2 && !a.json);
        assert_eq!(a.bind_mode, BindModeArg::Trx);
        assert_eq!(a.dlr_timeout(), Duration::from_secs(30));
        assert_eq!(a.threads, 2);
        assert_eq!(a.hold(), Duration::ZERO);
        a.validate().unwrap();
        assert_eq!(a.address(), "127.0.0.1:2775");
    }

    #[test]
    fn every_flag() {
        let a = parse(&[
            "--host",
            "10.0.0.1",
            "--port",
            "2775",
            "-u",
            "u",
            "-p",
            "p",
            "--binds",
            "4",
            "--window",
            "256",
            "--rate",
            "50000",
            "--count",
            "1000000",
            "--dlr",
            "--long",
            "--ucs2",
            "--json",
            "--bind-mode",
            "tx",
            "--dlr-timeout",
            "2.5",
            "--source",
            "12345",
            "--destination",
            "4477",
            "--threads",
            "4",
            "--hold",
            "1.5",
        ])
        .unwrap();
        a.validate().unwrap();
        assert_eq!((a.binds, a.window, a.rate), (4, 256, 50_000));
        assert_eq!(a.message_limit(), Some(1_000_000));
        assert!(a.dlr && a.long && a.ucs2 && a.json);
        assert_eq!(a.bind_mode.mode(), BindMode::Transmitter);
        assert_eq!(a.dlr_timeout(), Duration::from_millis(2500));
        assert_eq!(a.hold(), Duration::from_millis(1500));
        assert_eq!(a.address(), "10.0.0.1:2775");
    }

    #[test]
    fn duration_instead_of_count() {
        let a = parse(&["--port", "1", "-u", "u", "-p", "p", "--duration", "10"]).unwrap();
        assert_eq!(a.message_limit(), None);
        assert_eq!(a.duration(), Some(Duration::from_secs(10)));
    }

    #[test]
    fn rejected() {
        // count and duration exclude each other
        assert!(
            parse(&[
                "--port",
                "1",
                "-u",
                "u",
                "-p",
                "p",
                "--count",
                "1",
                "--duration",
                "1"
            ])
            .is_err()
        );
        // user, password and port are required
        assert!(parse(&["--port", "1", "-p", "p"]).is_err());
        assert!(parse(&["-u", "u", "-p", "p"]).is_err());
        assert!(parse(&["--port", "1", "-u", "u", "-p", "p", "--binds", "0"]).is_err());
        assert!(parse(&["--port", "1", "-u", "u", "-p", "p", "--bind-mode", "rx"]).is_err());
        let bad = parse(&["--port", "1", "-u", "u", "-p", "p", "--destination", "+33"]).unwrap();
        assert!(bad.validate().is_err());
        let bad = parse(&["--port", "1", "-u", "u", "-p", "p", "--dlr-timeout=-1"]).unwrap();
        assert!(bad.validate().is_err());
        let bad = parse(&["--port", "1", "-u", "u", "-p", "p", "--hold=-1"]).unwrap();
        assert!(bad.validate().is_err());
    }

    #[test]
    fn ipv6_address() {
        let a = parse(&["--host", "::1", "--port", "2775", "-u", "u", "-p", "p"]).unwrap();
        assert_eq!(a.address(), "[::1]:2775");
    }
}
