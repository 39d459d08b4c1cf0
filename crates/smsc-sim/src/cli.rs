//! Command-line options (DESIGN.md, `smsc-sim`).

use std::time::Duration;

use clap::Parser;
use smpp::{CommandStatus, MessageState};

/// An upstream SMSC for tests, demos and benchmarks.
#[derive(Debug, Clone, Parser)]
#[command(name = "smsc-sim", version, about)]
pub struct Args {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// SMPP port.
    #[arg(long, default_value_t = 2776)]
    pub port: u16,
    /// Serve SMPP over TLS on --port with this certificate chain (PEM);
    /// needs --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Delay before a submitted message's receipt is sent, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub dlr_delay_ms: u64,
    /// Mix of receipt outcomes: STAT[:ERR]=WEIGHT,... (DELIVRD, UNDELIV,
    /// EXPIRED, REJECTD, DELETED, UNKNOWN, ACCEPTD; NONE: accepted and
    /// never reported, no final receipt at all); err is 3 digits.
    #[arg(long, default_value = "DELIVRD=1", value_parser = parse_stat_mix)]
    pub dlr_stat: StatMix,
    /// Fraction of submits answered with --fail-status.
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Status for --fail-rate, e.g. 0x08 or 8.
    #[arg(long, default_value = "0x08", value_parser = parse_status)]
    pub fail_status: CommandStatus,
    /// Fraction of submits answered with ESME_RTHROTTLED.
    #[arg(long, default_value_t = 0.0)]
    pub throttle_rate: f64,
    /// How message ids are written: hex or dec.
    #[arg(long, default_value = "hex", value_parser = ["hex", "dec"])]
    pub id_format: String,
    /// MO messages per second, spread over the bound receivers.
    #[arg(long, default_value_t = 0.0)]
    pub mo_rate: f64,
    /// Submits per second above which ESME_RTHROTTLED is answered (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub max_tps: u64,
    /// Drop each connection after it has sent this many PDUs (0: never).
    #[arg(long, default_value_t = 0)]
    pub drop_after: u64,
    /// Accept only this system_id (any when absent).
    #[arg(long)]
    pub system_id: Option<String>,
    /// Accept only this password (any when absent).
    #[arg(long)]
    pub password: Option<String>,
    /// How many messages query_sm and cancel_sm can still find.
    #[arg(long, default_value_t = 1 << 20)]
    pub remember: usize,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Log filter (RUST_LOG syntax); logs go to stderr.
    #[arg(long, default_value = "info")]
    pub log: String,
}

impl Args {
    pub fn dlr_delay(&self) -> Duration {
        Duration::from_millis(self.dlr_delay_ms)
    }
}

/// A weighted choice of receipt outcomes.
#[derive(Debug, Clone)]
pub struct StatMix {
    /// (cumulative weight, state, err code)
    /// Cumulative weight, the final state (None: NONE, no receipt) and
    /// its err.
    entries: Vec<(f64, Option<MessageState>, u16)>,
    total: f64,
}

impl StatMix {
    /// Pick an outcome from a uniform number in [0, 1): the final state
    /// and err of the receipt, or None for no receipt (NONE).
    pub fn pick(&self, u: f64) -> Option<(MessageState, u16)> {
        let x = u * self.total;
        let pick = |&(_, s, e): &(f64, Option<MessageState>, u16)| s.map(|s| (s, e));
        match self.entries.iter().find(|(cum, _, _)| x < *cum) {
            Some(entry) => pick(entry),
            None => self
                .entries
                .last()
                .map_or(Some((MessageState::Delivered, 0)), pick),
        }
    }
}

fn parse_stat_mix(s: &str) -> Result<StatMix, String> {
    let mut entries = Vec::new();
    let mut total = 0.0;
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (name, weight) = item
            .split_once('=')
            .ok_or_else(|| format!("{item:?}: expected STAT=WEIGHT"))?;
        let (stat, err) = match name.split_once(':') {
            Some((s, e)) => (s, Some(e)),
            None => (name, None),
        };
        let state = if stat.eq_ignore_ascii_case("NONE") {
            None
        } else {
            Some(
                MessageState::from_receipt_stat(stat)
                    .ok_or_else(|| format!("{stat:?}: unknown stat"))?,
            )
        };
        let err = match err {
            Some(e) => e
                .parse::<u16>()
                .map_err(|_| format!("{e:?}: err must be a number"))?,
            None if state.is_none_or(|s| s == MessageState::Delivered) => 0,
            None => 1,
        };
        let w: f64 = weight
            .parse()
            .map_err(|_| format!("{weight:?}: weight must be a number"))?;
        if !(w >= 0.0 && w.is_finite()) {
            return Err(format!("{weight:?}: weight must be 0 or more"));
        }
        total += w;
        entries.push((total, state, err));
    }
    if entries.is_empty() || total <= 0.0 {
        return Err("no stat with a positive weight".into());
    }
    Ok(StatMix { entries, total })
}

fn parse_status(s: &str) -> Result<CommandStatus, String> {
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    };
    v.map(CommandStatus)
        .map_err(|_| format!("{s:?}: not a status number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_mix() {
        let m = parse_stat_mix("DELIVRD=0.9,UNDELIV:034=0.1").unwrap();
        assert_eq!(m.pick(0.0), Some((MessageState::Delivered, 0)));
        assert_eq!(m.pick(0.95), Some((MessageState::Undeliverable, 34)));
        let m = parse_stat_mix("expired=1").unwrap();
        assert_eq!(m.pick(0.5), Some((MessageState::Expired, 1)));
        let m = parse_stat_mix("DELIVRD=3,NONE=1").unwrap();
        assert_eq!(m.pick(0.5), Some((MessageState::Delivered, 0)));
        assert_eq!(m.pick(0.9), None);
        assert!(parse_stat_mix("NOPE=1").is_err());
        assert!(parse_stat_mix("DELIVRD=0").is_err());
        assert!(parse_stat_mix("DELIVRD").is_err());
    }

    #[test]
    fn statuses() {
        assert_eq!(parse_status("0x58"), Ok(CommandStatus::ESME_RTHROTTLED));
        assert_eq!(parse_status("8"), Ok(CommandStatus::ESME_RSYSERR));
        assert!(parse_status("x").is_err());
    }
}
