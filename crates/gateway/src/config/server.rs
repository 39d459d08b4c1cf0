//! The singleton sections: `[smpp-server]`, `[http-api]`, `[store]` and
//! `[log]` — their settings, their key tables and their reading.
//!
//! Each appears at most once and takes no name (`sections.rs` checks
//! that); left out, every key takes its default.

use std::net::IpAddr;
use std::time::Duration;

use smpp_session::tls::TlsError;

use super::Secret;
use super::ini::Section;
use super::keys::{Keys, Reader, key_table};
use super::tls::{PemFile, TlsListener, pem_file};
use super::values::{choice, ip, seconds, secret, text, whole};

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
    /// TCP connections open at once from one client address (an IPv4
    /// address, an IPv6 /64), both SMPP ports together; 0: no limit.
    pub max_connections_per_ip: u32,
    /// The TLS listener, when `tls_port` is given (and its files read).
    pub tls: Option<TlsListener>,
}

#[derive(Debug, Clone)]
pub struct HttpApi {
    pub bind: IpAddr,
    pub port: u16,
    /// TCP connections open at once from one client address; 0: no
    /// limit (the default: behind a proxy every client is the proxy).
    pub max_connections_per_ip: u32,
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

key_table! {
    /// `[smpp-server]`.
    pub(super) mod smpp_server {
        ID: String = "id", default "smpps_01", text;
        BIND: IpAddr = "bind", default "127.0.0.1", ip;
        PORT: u16 = "port", default "2775", whole;
        SESSION_INIT_TIMER: Duration = "sessioninittimersecs", default "30", seconds;
        ENQUIRE_LINK_TIMER: Duration = "enquirelinktimersecs", default "30", seconds;
        INACTIVITY_TIMER: Duration = "inactivitytimersecs", default "300", seconds;
        RESPONSE_TIMER: Duration = "responsetimersecs", default "60", seconds;
        PDU_READ_TIMER: Duration = "pdureadtimersecs", default "30", seconds;
        MAX_BINDS: u32 = "max_binds", default "10000", whole;
        BIND_FAIL_LIMIT: u32 = "bind_fail_limit", default "10", whole;
        BIND_FAIL_COOLDOWN: Duration = "bind_fail_cooldown", default "60", seconds;
        MAX_CONNECTIONS_PER_IP: u32 = "max_connections_per_ip", default "1000", whole;
        // A TLS listener when tls_port is given; then cert and key are
        // required: PEM files, read with the configuration.
        TLS_PORT: u16 = "tls_port", optional, whole;
        TLS_CERT: PemFile = "tls_cert", optional, pem_file;
        TLS_KEY: PemFile = "tls_key", optional, pem_file;
    }
}

key_table! {
    /// `[http-api]`.
    pub(super) mod http_api {
        BIND: IpAddr = "bind", default "127.0.0.1", ip;
        PORT: u16 = "port", default "1401", whole;
        MAX_CONNECTIONS_PER_IP: u32 = "max_connections_per_ip", default "0", whole;
    }
}

key_table! {
    /// `[store]`.
    pub(super) mod store {
        BACKEND: Backend = "backend", default "memory", backend;
        // Read only for redis.
        URL: Secret = "url", default "redis://127.0.0.1:6379/0", redis_url;
        QUEUE_LIMIT: u64 = "queue_limit", default "1000000", whole;
        STATUS_RETENTION: Duration = "status_retention", default "172800", retention;
    }
}

key_table! {
    /// `[log]`.
    pub(super) mod log {
        LEVEL: String = "level", default "info", text;
        FORMAT: LogFormat = "format", default "text", log_format;
    }
}

/// `[store] backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Backend {
    Memory,
    Redis,
}

fn backend(v: &str) -> Result<Backend, String> {
    choice(v, &[("memory", Backend::Memory), ("redis", Backend::Redis)])
}

fn log_format(v: &str) -> Result<LogFormat, String> {
    choice(v, &[("text", LogFormat::Text), ("json", LogFormat::Json)])
}

pub(super) fn read_smpp_server(reader: &Reader<'_>, section: &Section) -> SmppServer {
    use smpp_server::*;
    let s = Keys::new(reader, section, names());
    let tls = tls_listener(&s);
    SmppServer {
        id: s.get(&ID),
        bind: s.get(&BIND),
        port: s.get(&PORT),
        session_init_timer: s.get(&SESSION_INIT_TIMER),
        enquire_link_timer: s.get(&ENQUIRE_LINK_TIMER),
        inactivity_timer: s.get(&INACTIVITY_TIMER),
        response_timer: s.get(&RESPONSE_TIMER),
        pdu_read_timer: s.get(&PDU_READ_TIMER),
        max_binds: s.get(&MAX_BINDS),
        bind_fail_limit: s.get(&BIND_FAIL_LIMIT),
        bind_fail_cooldown: s.get(&BIND_FAIL_COOLDOWN),
        max_connections_per_ip: s.get(&MAX_CONNECTIONS_PER_IP),
        tls,
    }
}

/// The TLS listener when `tls_port` is given: its certificate and key
/// read and checked against each other. A bad tls_port still reads the
/// cert and key (all errors at once); any error leaves no listener.
fn tls_listener(s: &Keys<'_, '_>) -> Option<TlsListener> {
    use smpp_server::*;
    if !s.given(&TLS_PORT) {
        return None;
    }
    let port = s.get(&TLS_PORT);
    let cert = s.require(&TLS_CERT);
    let key = s.require(&TLS_KEY);
    let (port, cert, key) = (port?, cert?, key?);
    let cert_path = cert.path.clone();
    match TlsListener::new(port, cert, key) {
        Ok(l) => Some(l),
        // The certificate file is at fault only when it did not parse;
        // otherwise the key is (unreadable, or not the certificate's).
        Err(TlsError::Pem { path, message }) if path == cert_path => {
            s.fault(&TLS_CERT, format!("{path}: {message}"));
            None
        }
        Err(TlsError::Rustls(rustls::Error::InconsistentKeys(_))) => {
            s.fault(&TLS_KEY, "is not the key of tls_cert's certificate");
            None
        }
        Err(e) => {
            s.fault(&TLS_KEY, e.to_string());
            None
        }
    }
}

pub(super) fn read_http_api(reader: &Reader<'_>, section: &Section) -> HttpApi {
    let h = Keys::new(reader, section, http_api::names());
    HttpApi {
        bind: h.get(&http_api::BIND),
        port: h.get(&http_api::PORT),
        max_connections_per_ip: h.get(&http_api::MAX_CONNECTIONS_PER_IP),
    }
}

/// A URL the redis client reads (checked here, so check-config says so,
/// not only `tern run`). The error never quotes it: it may hold a
/// password.
fn redis_url(v: &str) -> Result<Secret, String> {
    match ::redis::Client::open(v.trim()) {
        Ok(_) => secret(v.trim()),
        Err(_) => Err("not a Redis URL (redis://[:password@]host:port/db; the value is not shown: it may hold a password)".into()),
    }
}

/// At least a minute, in seconds.
fn retention(v: &str) -> Result<Duration, String> {
    let d = seconds(v)?;
    if d < Duration::from_secs(60) {
        return Err(format!("expected at least 60 seconds, got {v:?}"));
    }
    Ok(d)
}

/// The store, its `queue_limit` and its `status_retention`.
pub(super) fn read_store(reader: &Reader<'_>, section: &Section) -> (StoreConfig, u64, Duration) {
    let s = Keys::new(reader, section, store::names());
    let queue_limit = s.get(&store::QUEUE_LIMIT);
    let status_retention = s.get(&store::STATUS_RETENTION);
    let config = match s.get(&store::BACKEND) {
        Backend::Memory => StoreConfig::Memory,
        Backend::Redis => StoreConfig::Redis {
            url: s.get(&store::URL),
        },
    };
    (config, queue_limit, status_retention)
}

pub(super) fn read_log(reader: &Reader<'_>, section: &Section) -> LogConfig {
    let l = Keys::new(reader, section, log::names());
    LogConfig {
        level: l.get(&log::LEVEL),
        format: l.get(&log::FORMAT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_reads() {
        for bad in [
            smpp_server::bad_defaults(),
            http_api::bad_defaults(),
            store::bad_defaults(),
            log::bad_defaults(),
        ] {
            assert!(bad.is_empty(), "{bad:?}");
        }
    }
}
