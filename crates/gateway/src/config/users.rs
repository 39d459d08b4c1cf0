//! `[group:NAME]` and `[user:SYSTEM_ID]`: who may bind, with what limits.
//!
//! A group holds defaults for its users: any key of the [`account`] table.
//! A user takes its own value of such a key, else its group's, else the
//! table's default. The groups are read before the users.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use regex::Regex;

use super::Secret;
use super::ini::Section;
use super::keys::{Keys, Reader, key_table};
use super::values::{Credit, items, regex, trimmed, whole, yes_no};
use crate::store::CallMethod;

/// A user's password: an argon2id PHC string, or plain text (accepted
/// with a warning at start).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Password {
    Phc(Secret),
    Plain(Secret),
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
    /// Where the user's MO goes as an HTTP call (Jasmin's MO parameters)
    /// instead of its receiver binds.
    pub mo_url: Option<String>,
    pub mo_method: CallMethod,
}

key_table! {
    /// The keys a group gives its users: all of `[group:NAME]`.
    pub(super) mod account {
        CREDIT: Credit = "credit", default "unlimited", Credit::parse;
        THROUGHPUT: u32 = "throughput", default "0", whole;
        // Defaults to the throughput, at least 1.
        BURST: u32 = "burst", optional, whole;
        MAX_BINDS: u32 = "max_binds", default "10", whole;
        ALLOWED_IPS: Vec<IpNet> = "allowed_ips", default "0.0.0.0/0, ::/0", ips;
        BIND_MODES: BindModes = "bind_modes", default "tx, rx, trx", bind_modes;
        SOURCE_ADDR: Regex = "source_addr", default ".*", regex;
    }
}

key_table! {
    /// `[user:SYSTEM_ID]`.
    pub(super) mod user {
        PASSWORD: Password = "password", required, password;
        GROUP: String = "group", optional, trimmed;
        ..account;
        MO_REASSEMBLE: bool = "mo_reassemble", default "no", yes_no;
        MO_URL: String = "mo_url", optional, http_url;
        MO_METHOD: CallMethod = "mo_method", default "GET", call_method;
    }
}

/// The longest plain-text password a bind carries (the front end reads
/// Jasmin's 30 characters, `Limits::JASMIN`): a longer one could never
/// bind.
const PASSWORD_MAX: usize = smpp::pdu::Limits::JASMIN.password - 1;

fn password(v: &str) -> Result<Password, String> {
    if v.starts_with("$argon2") {
        return Ok(Password::Phc(Secret::new(v)));
    }
    if v.len() > PASSWORD_MAX {
        // Its length only: the value is a secret.
        return Err(format!(
            "a plain-text password of at most {PASSWORD_MAX} octets (what a bind carries), got {}",
            v.len()
        ));
    }
    Ok(Password::Plain(Secret::new(v)))
}

/// Addresses or CIDR blocks: `10.0.0.0/8, 192.0.2.7`.
fn ips(v: &str) -> Result<Vec<IpNet>, String> {
    items(v)
        .iter()
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("expected addresses or CIDR blocks, got {s:?}"))
        })
        .collect()
}

/// `tx, rx, trx` (or `transmitter`, `receiver`, `transceiver`).
fn bind_modes(v: &str) -> Result<BindModes, String> {
    let mut m = BindModes {
        tx: false,
        rx: false,
        trx: false,
    };
    for s in items(v) {
        match s.to_ascii_lowercase().as_str() {
            "tx" | "transmitter" => m.tx = true,
            "rx" | "receiver" => m.rx = true,
            "trx" | "transceiver" => m.trx = true,
            other => return Err(format!("unknown bind mode {other:?} (tx, rx, trx)")),
        }
    }
    Ok(m)
}

/// A named `[group:NAME]`: only what it writes.
pub(super) fn read_group(reader: &Reader<'_>, section: &Section) -> Group {
    use account::*;
    let g = Keys::new(reader, section, names());
    Group {
        name: section.name.clone(),
        credit: g.written(&CREDIT),
        throughput: g.written(&THROUGHPUT),
        burst: g.written(&BURST),
        max_binds: g.written(&MAX_BINDS),
        allowed_ips: g.written(&ALLOWED_IPS),
        bind_modes: g.written(&BIND_MODES),
        source_addr: g.written(&SOURCE_ADDR),
    }
}

/// A named `[user:SYSTEM_ID]`, over its group from `groups`.
pub(super) fn read_user(
    reader: &Reader<'_>,
    section: &Section,
    groups: &BTreeMap<String, Group>,
) -> User {
    use account::*;
    let u = Keys::new(reader, section, user::names());
    let group_name = u.get(&user::GROUP);
    let group = match &group_name {
        Some(g) => match groups.get(g) {
            Some(g) => g.clone(),
            None => {
                u.fault(&user::GROUP, format!("no [group:{g}]"));
                Group::default()
            }
        },
        None => Group::default(),
    };
    let password = u
        .get(&user::PASSWORD)
        .unwrap_or(Password::Plain(Secret::new("")));
    let throughput = u.get_or(&THROUGHPUT, group.throughput);
    User {
        system_id: section.name.clone(),
        password,
        group: group_name,
        credit: u.get_or(&CREDIT, group.credit),
        throughput,
        burst: u.get(&BURST).or(group.burst).unwrap_or(throughput.max(1)),
        max_binds: u.get_or(&MAX_BINDS, group.max_binds),
        allowed_ips: u.get_or(&ALLOWED_IPS, group.allowed_ips),
        bind_modes: u.get_or(&BIND_MODES, group.bind_modes),
        source_addr: u.get_or(&SOURCE_ADDR, group.source_addr),
        mo_reassemble: u.get(&user::MO_REASSEMBLE),
        mo_url: u.get(&user::MO_URL),
        mo_method: u.get(&user::MO_METHOD),
    }
}

/// An absolute http or https URL with a host.
fn http_url(v: &str) -> Result<String, String> {
    let v = v.trim();
    match url::Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            Ok(v.to_string())
        }
        _ => Err(format!("expected an http or https URL, got {v:?}")),
    }
}

/// `GET` or `POST`.
fn call_method(v: &str) -> Result<CallMethod, String> {
    CallMethod::parse(v.trim()).ok_or_else(|| format!("expected GET or POST, got {:?}", v.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_reads() {
        assert!(account::bad_defaults().is_empty());
        assert!(user::bad_defaults().is_empty());
    }

    #[test]
    fn the_default_addresses_and_modes_allow_everything() {
        let all = ips(account::ALLOWED_IPS.default).unwrap();
        assert_eq!(
            all,
            vec![IpNet::V4(Default::default()), IpNet::V6(Default::default())]
        );
        let modes = bind_modes(account::BIND_MODES.default).unwrap();
        assert!(modes.tx && modes.rx && modes.trx);
    }
}
