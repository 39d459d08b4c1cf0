//! The gateway's configuration: etc/tern.ini read into typed settings.
//!
//! Everything an operator can get wrong is reported with the file, the
//! section and the key (and the line), all at once, before anything runs:
//! unknown sections and keys, bad values, bad regexes, a route naming a
//! missing connector or filter, no default route, two routes with one
//! order. Secrets ([`Secret`]) never print.
//!
//! Reading the file is [`ini`]; this module gives it meaning. A value can
//! be overridden from the environment as `TERN_<SECTION>__<KEY>`
//! ([`ini::env_name`]).

pub mod ini;
mod values;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;
use regex::Regex;
use smpp::receipt::IdFormat;
use smpp::split::Method;

pub use values::Credit;
use values::*;

/// A value that must not appear in logs: prints as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A user's password: an argon2id PHC string, or plain text (accepted
/// with a warning at start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Password {
    Phc(Secret),
    Plain(Secret),
}

/// One configuration error: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub section: Option<String>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        match (&self.section, &self.key) {
            (Some(s), Some(k)) => write!(f, ": [{s}] {k}: ")?,
            (Some(s), None) => write!(f, ": [{s}]: ")?,
            (None, Some(k)) => write!(f, ": {k}: ")?,
            (None, None) => write!(f, ": ")?,
        }
        f.write_str(&self.message)
    }
}

/// Every error found in a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub file: String,
    pub smpp_server: SmppServer,
    pub http_api: HttpApi,
    pub store: StoreConfig,
    /// `[store] queue_limit`: messages a connector's queue may hold before
    /// submits are answered ESME_RMSGQFUL.
    pub queue_limit: u64,
    pub log: LogConfig,
    pub groups: BTreeMap<String, Group>,
    /// Users with their group's defaults applied.
    pub users: BTreeMap<String, User>,
    pub connectors: BTreeMap<String, Connector>,
    pub filters: BTreeMap<String, Filter>,
    /// Highest order first; the default route (order 0) last.
    pub mt_routes: Vec<MtRoute>,
    /// Highest order first; the default route (order 0) last.
    pub mo_routes: Vec<MoRoute>,
}

#[derive(Debug, Clone)]
pub struct SmppServer {
    pub id: String,
    pub bind: IpAddr,
    pub port: u16,
    pub session_init_timer: Duration,
    pub enquire_link_timer: Duration,
    pub inactivity_timer: Duration,
    pub response_timer: Duration,
    pub pdu_read_timer: Duration,
    /// All users together.
    pub max_binds: u32,
    /// Failed binds from one IP within 60 s before a cool-down.
    pub bind_fail_limit: u32,
    pub bind_fail_cooldown: Duration,
    pub tls: Option<TlsListener>,
}

#[derive(Debug, Clone)]
pub struct TlsListener {
    pub port: u16,
    pub cert: String,
    pub key: String,
}

#[derive(Debug, Clone)]
pub struct HttpApi {
    pub bind: IpAddr,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    Memory,
    Redis { url: Secret },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
}

/// Which bind modes a user may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindModes {
    pub tx: bool,
    pub rx: bool,
    pub trx: bool,
}

/// A group's defaults: every field a user may override.
#[derive(Debug, Clone, Default)]
pub struct Group {
    pub name: String,
    pub credit: Option<Credit>,
    pub throughput: Option<u32>,
    pub burst: Option<u32>,
    pub max_binds: Option<u32>,
    pub allowed_ips: Option<Vec<IpNet>>,
    pub bind_modes: Option<BindModes>,
    pub source_addr: Option<Regex>,
}

#[derive(Debug, Clone)]
pub struct User {
    pub system_id: String,
    pub password: Password,
    pub group: Option<String>,
    pub credit: Credit,
    /// Message parts per second, 0 = unlimited.
    pub throughput: u32,
    pub burst: u32,
    pub max_binds: u32,
    pub allowed_ips: Vec<IpNet>,
    pub bind_modes: BindModes,
    /// A submit's source_addr must match.
    pub source_addr: Regex,
    /// Concatenated MO parts are joined into one deliver_sm (the text in
    /// message_payload) before delivery; otherwise each part goes as it
    /// came.
    pub mo_reassemble: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorBind {
    Transceiver,
    /// One transmitter and one receiver per session.
    TransmitterAndReceiver,
}

#[derive(Debug, Clone)]
pub struct Connector {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: Secret,
    pub system_type: String,
    pub bind: ConnectorBind,
    pub sessions: u32,
    pub window: u32,
    /// Per second, 0 = unlimited.
    pub submit_throughput: u32,
    pub enquire_link: Duration,
    pub response_timeout: Duration,
    /// Doubles up to 60 s on repeated failure.
    pub reconnect_delay: Duration,
    /// How the upstream writes message ids in receipts.
    pub id_format: IdFormat,
    /// How it writes them in submit_sm_resp (defaults to `id_format`).
    pub submit_id_format: IdFormat,
    pub split: Method,
    pub dlr_expiry: Duration,
}

/// What a filter matches on.
#[derive(Debug, Clone)]
pub enum FilterKind {
    User(String),
    Group(String),
    SourceAddr(Regex),
    DestinationAddr(Regex),
    ShortMessage(Regex),
    /// For MO: the connector the message came from.
    Connector(String),
    /// Inclusive UTC dates, as days since 1970-01-01.
    Date {
        from: i64,
        to: i64,
    },
    /// UTC seconds of the day; `from > to` wraps past midnight.
    Time {
        from: u32,
        to: u32,
    },
    Tag(u32),
}

#[derive(Debug, Clone)]
pub struct Filter {
    pub name: String,
    pub kind: FilterKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtRouteType {
    Default,
    Static,
    RoundRobin,
    Failover,
}

#[derive(Debug, Clone)]
pub struct MtRoute {
    pub order: u32,
    pub kind: MtRouteType,
    pub connectors: Vec<String>,
    pub filters: Vec<String>,
    /// Credit charged per message part.
    pub rate: Credit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoRouteType {
    Default,
    Static,
}

#[derive(Debug, Clone)]
pub struct MoRoute {
    pub order: u32,
    pub kind: MoRouteType,
    pub users: Vec<String>,
    pub filters: Vec<String>,
}

impl Config {
    /// Read and check a file, with overrides from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: file.clone(),
                line: None,
                section: None,
                key: None,
                message: format!("cannot read: {e}"),
            }])
        })?;
        Config::parse(&text, &file, &|name| std::env::var(name).ok())
    }

    /// Check text as if read from `file`, with `env` for overrides.
    pub fn parse(
        text: &str,
        file: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigErrors> {
        build(text, file, env)
    }
}
