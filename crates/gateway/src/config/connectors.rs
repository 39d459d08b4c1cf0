//! `[connector:NAME]`: an upstream SMSC Tern binds to, its session
//! settings (TLS among them) and how it writes message ids.

use std::time::Duration;

use smpp::MessageState;
use smpp::receipt::IdFormat;
use smpp::split::Method;

use super::Secret;
use super::ini::Section;
use super::keys::{Keys, Reader, key_table};
use super::tls::{ConnectorTls, PemFile, SYSTEM_CA_BUNDLE, pem_file};
use super::values::{choice, seconds, secret, text, trimmed, whole, yes_no};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorBind {
    Transceiver,
    /// One transmitter and one receiver per session.
    TransmitterAndReceiver,
}

/// Equal when every key is: a reload restarts a connector whose
/// configuration is not equal.
#[derive(Debug, Clone, PartialEq)]
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
    /// The final state of a message whose receipts did not all come
    /// within `dlr_expiry`: UNKNOWN or EXPIRED.
    pub dlr_expiry_state: MessageState,
    /// TLS upstream (`tls = yes`).
    pub tls: Option<ConnectorTls>,
}

key_table! {
    /// `[connector:NAME]`.
    pub(super) mod connector {
        HOST: String = "host", required, trimmed;
        PORT: u16 = "port", required, port_number;
        USERNAME: String = "username", required, system_id;
        PASSWORD: Secret = "password", default "", bind_password;
        SYSTEM_TYPE: String = "system_type", default "", system_type;
        BIND: ConnectorBind = "bind", default "trx", connector_bind;
        SESSIONS: u32 = "sessions", default "1", at_least_one;
        WINDOW: u32 = "window", default "64", at_least_one;
        SUBMIT_THROUGHPUT: u32 = "submit_throughput", default "0", whole;
        ENQUIRE_LINK: Duration = "enquire_link", default "30", seconds;
        RESPONSE_TIMEOUT: Duration = "response_timeout", default "60", seconds;
        RECONNECT_DELAY: Duration = "reconnect_delay", default "5", seconds;
        ID_FORMAT: IdFormat = "id_format", default "auto", id_format;
        // Defaults to id_format.
        SUBMIT_ID_FORMAT: IdFormat = "submit_id_format", optional, id_format;
        SPLIT: Method = "split", default "udh", split;
        DLR_EXPIRY: Duration = "dlr_expiry", default "86400", seconds;
        DLR_EXPIRY_STATE: MessageState = "dlr_expiry_state", default "UNKNOWN", expiry_state;
        TLS: bool = "tls", default "no", yes_no;
        // Read only with tls = yes. The CAs default to the system's
        // bundle, the name to host.
        TLS_CA: PemFile = "tls_ca", optional, pem_file;
        TLS_SERVER_NAME: String = "tls_server_name", optional, trimmed;
        TLS_VERIFY: bool = "tls_verify", default "yes", yes_no;
    }
}

/// A bind's field of at most `max` octets (SMPP 3.4: tern binds
/// upstream within the 3.4 limits).
fn bind_field(v: &str, max: usize) -> Result<(), String> {
    if v.len() > max {
        return Err(format!(
            "at most {max} octets in an SMPP 3.4 bind, got {}",
            v.len()
        ));
    }
    Ok(())
}

fn system_id(v: &str) -> Result<String, String> {
    bind_field(v, 15).and_then(|()| text(v))
}

/// The value is a secret: an error says its length only.
fn bind_password(v: &str) -> Result<Secret, String> {
    bind_field(v, 8).and_then(|()| secret(v))
}

fn system_type(v: &str) -> Result<String, String> {
    bind_field(v, 12).and_then(|()| text(v))
}

fn port_number(v: &str) -> Result<u16, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("expected a port number, got {v:?}"))
}

/// A whole number; 0 counts as 1.
fn at_least_one(v: &str) -> Result<u32, String> {
    whole(v).map(|n: u32| n.max(1))
}

fn connector_bind(v: &str) -> Result<ConnectorBind, String> {
    choice(
        v,
        &[
            ("trx", ConnectorBind::Transceiver),
            ("tx+rx", ConnectorBind::TransmitterAndReceiver),
        ],
    )
}

fn id_format(v: &str) -> Result<IdFormat, String> {
    choice(
        v,
        &[
            ("auto", IdFormat::Auto),
            ("hex", IdFormat::Hex),
            ("dec", IdFormat::Dec),
        ],
    )
}

fn expiry_state(v: &str) -> Result<MessageState, String> {
    choice(
        v,
        &[
            ("unknown", MessageState::Unknown),
            ("expired", MessageState::Expired),
        ],
    )
}

fn split(v: &str) -> Result<Method, String> {
    choice(
        v,
        &[
            ("udh", Method::Udh8),
            ("udh16", Method::Udh16),
            ("sar", Method::Sar),
            ("payload", Method::Payload),
        ],
    )
}

/// A named `[connector:NAME]`. It is kept even when a required key is
/// missing, so that routes naming it report nothing more.
pub(super) fn read_connector(reader: &Reader<'_>, section: &Section) -> Connector {
    use connector::*;
    let c = Keys::new(reader, section, names());
    Connector {
        name: section.name.clone(),
        host: c.get(&HOST).unwrap_or_default(),
        port: c.get(&PORT).unwrap_or(0),
        username: c.get(&USERNAME).unwrap_or_default(),
        password: c.get(&PASSWORD),
        system_type: c.get(&SYSTEM_TYPE),
        bind: c.get(&BIND),
        sessions: c.get(&SESSIONS),
        window: c.get(&WINDOW),
        submit_throughput: c.get(&SUBMIT_THROUGHPUT),
        enquire_link: c.get(&ENQUIRE_LINK),
        response_timeout: c.get(&RESPONSE_TIMEOUT),
        reconnect_delay: c.get(&RECONNECT_DELAY),
        id_format: c.get(&ID_FORMAT),
        submit_id_format: submit_id_format(&c),
        split: c.get(&SPLIT),
        dlr_expiry: c.get(&DLR_EXPIRY),
        dlr_expiry_state: c.get(&DLR_EXPIRY_STATE),
        tls: tls(&c),
    }
}

/// With `tls = yes`: the CAs (read and checked) and the server name.
fn tls(c: &Keys<'_, '_>) -> Option<ConnectorTls> {
    use connector::*;
    if !c.get(&TLS) {
        return None;
    }
    let server_name = match c.get(&TLS_SERVER_NAME) {
        Some(name) => name,
        None => c.peek(&HOST).unwrap_or_default(),
    };
    // (A missing host is reported as such.)
    if !server_name.is_empty() && smpp_session::tls::server_name(&server_name).is_err() {
        let at = if c.given(&TLS_SERVER_NAME) {
            &TLS_SERVER_NAME
        } else {
            &HOST
        };
        c.fault(
            at,
            format!("{server_name:?} is not a DNS name or IP address for TLS"),
        );
    }
    let ca = if c.get(&TLS_VERIFY) {
        let ca = if c.given(&TLS_CA) {
            c.get(&TLS_CA)?
        } else {
            match PemFile::read(SYSTEM_CA_BUNDLE) {
                Ok(f) => f,
                Err(e) => {
                    c.fault(&TLS_CA, format!("not set, and the system's CA bundle: {e}"));
                    return None;
                }
            }
        };
        Some(ca)
    } else {
        None
    };
    let tls = ConnectorTls { ca, server_name };
    if let Err(e) = tls.connector() {
        c.fault(&TLS_CA, e.to_string());
        return None;
    }
    Some(tls)
}

/// `submit_id_format`, else `id_format`. `auto` keys ids by their text,
/// hex/dec by their value: the two must agree on which.
fn submit_id_format(c: &Keys<'_, '_>) -> IdFormat {
    use connector::*;
    let receipts = c.peek(&ID_FORMAT).unwrap_or(IdFormat::Auto);
    let Some(submits) = c.get(&SUBMIT_ID_FORMAT) else {
        return receipts;
    };
    if (receipts == IdFormat::Auto) != (submits == IdFormat::Auto) {
        c.fault(
            &SUBMIT_ID_FORMAT,
            "with id_format, either both auto or both hex/dec",
        );
    }
    submits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_reads() {
        assert!(connector::bad_defaults().is_empty());
    }
}
