//! The gateway's configuration: etc/tern.ini read into typed settings.
//!
//! Everything an operator can get wrong is reported with the file, the
//! section and the key (and the line), all at once, before anything runs:
//! unknown sections and keys, bad values, bad regexes, a route naming a
//! missing connector or filter, two routes with one order. (A default
//! route is not required: without one, what no route matches is refused.) Secrets ([`Secret`]) never print.
//!
//! Reading the file is [`ini`]; the rest gives it meaning, a file per
//! section kind, each with its settings and its one key table:
//!
//! - `server.rs`: `[smpp-server]`, `[http-api]`, `[store]`, `[log]`
//! - `users.rs`: `[group:NAME]`, `[user:SYSTEM_ID]`
//! - `connectors.rs`: `[connector:NAME]`
//! - `filters.rs`: `[filter:NAME]`
//! - `routes.rs`: `[mt-route:ORDER]`, `[mo-route:ORDER]`, and the rules
//!   on what routes name
//! - `tls.rs`: the PEM files TLS keys name, read with the file
//!
//! `keys.rs` is the key-table machinery they share (an unknown key, a bad
//! value, a default), `values.rs` the value grammars, `sections.rs` the
//! file as a whole. A value can be overridden from the environment as
//! `TERN_<SECTION>__<KEY>` ([`ini::env_name`]).

mod connectors;
mod error;
mod filters;
pub mod ini;
mod keys;
mod routes;
mod secret;
mod sections;
mod server;
mod tls;
mod users;
mod values;

#[cfg(test)]
mod reference_doc;

use std::collections::BTreeMap;
use std::path::Path;

pub use connectors::{Connector, ConnectorBind};
pub use error::{ConfigError, ConfigErrors};
pub use filters::{Filter, FilterKind};
pub use routes::{MoRoute, MoRouteType, MtRoute, MtRouteType};
pub use secret::Secret;
pub use server::{HttpApi, LogConfig, LogFormat, SmppServer, StoreConfig};
pub use tls::{ConnectorTls, PemFile, SYSTEM_CA_BUNDLE, TlsListener};
pub use users::{BindModes, Group, Password, User};
pub use values::Credit;

#[derive(Debug, Clone)]
pub struct Config {
    pub file: String,
    pub smpp_server: SmppServer,
    pub http_api: HttpApi,
    pub store: StoreConfig,
    /// `[store] queue_limit`: messages a connector's queue may hold before
    /// submits are answered ESME_RMSGQFUL.
    pub queue_limit: u64,
    /// `[store] status_retention`: how long a final message's state is
    /// kept for query_sm (the store's retention).
    pub status_retention: std::time::Duration,
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

/// The largest configuration file read: 16 MiB.
pub const CONFIG_MAX: u64 = 16 << 20;

/// The file at `path`, refused when it holds more than `max` bytes (a
/// device such as `/dev/zero` never ends).
pub(crate) fn read_bounded(path: &std::path::Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ));
    }
    Ok(out)
}

impl Config {
    /// Read and check a file, with overrides from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let file = path.display().to_string();
        let text = read_bounded(path, CONFIG_MAX).and_then(|b| {
            String::from_utf8(b).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "stream did not contain valid UTF-8",
                )
            })
        });
        let text = text.map_err(|e| {
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
        sections::read(text, file, env)
    }
}
