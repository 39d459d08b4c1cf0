//! Turning sections and values into typed settings, with every error
//! named by file, line, section and key.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use regex::Regex;
use smpp::receipt::IdFormat;
use smpp::split::Method;

use super::ini::{self, Section};
use super::*;

/// An amount of credit in millionths: no floating-point drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Credit {
    Unlimited,
    Micro(i64),
}

impl Credit {
    pub const MICRO: i64 = 1_000_000;

    /// `unlimited`, or a decimal amount with at most 6 decimals.
    pub fn parse(s: &str) -> Result<Credit, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("unlimited") {
            return Ok(Credit::Unlimited);
        }
        parse_micro(s).map(Credit::Micro)
    }
}

/// A decimal such as `12.5` in millionths.
pub fn parse_micro(s: &str) -> Result<i64, String> {
    let bad = || format!("expected a decimal amount such as 12.5, got {s:?}");
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    if frac.len() > 6 {
        return Err(format!("{s:?}: at most 6 decimals"));
    }
    let int: i64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let frac_v: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse::<i64>().map_err(|_| bad())? * 10i64.pow(6 - frac.len() as u32)
    };
    let v = int
        .checked_mul(Credit::MICRO)
        .and_then(|v| v.checked_add(frac_v))
        .ok_or_else(|| format!("{s:?} is too large"))?;
    Ok(if neg { -v } else { v })
}

/// Collects errors while reading; hands out defaults so reading goes on.
pub(super) struct Cx<'a> {
    file: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    errors: RefCell<Vec<ConfigError>>,
}

/// One section being read.
pub(super) struct Sec<'a, 'b> {
    cx: &'b Cx<'a>,
    section: &'b Section,
    title: String,
}

impl<'a> Cx<'a> {
    fn error(
        &self,
        line: Option<usize>,
        section: Option<&str>,
        key: Option<&str>,
        message: impl Into<String>,
    ) {
        self.errors.borrow_mut().push(ConfigError {
            file: self.file.to_string(),
            line,
            section: section.map(str::to_string),
            key: key.map(str::to_string),
            message: message.into(),
        });
    }
}

impl<'a, 'b> Sec<'a, 'b> {
    fn new(cx: &'b Cx<'a>, section: &'b Section, allowed: &[&str]) -> Self {
        let title = section.title();
        for e in &section.entries {
            if !allowed.contains(&e.key.as_str()) {
                cx.error(
                    Some(e.line),
                    Some(&title),
                    Some(&e.key),
                    format!("unknown key (allowed: {})", allowed.join(", ")),
                );
            }
        }
        Sec { cx, section, title }
    }

    /// The raw value: the environment override first, then the file.
    fn raw(&self, key: &str) -> Option<(String, Option<usize>)> {
        let env = ini::env_name(&self.title, key);
        if let Some(v) = (self.cx.env)(&env) {
            return Some((v, None));
        }
        self.section
            .get(key)
            .map(|e| (e.value.clone(), Some(e.line)))
    }

    fn err(&self, line: Option<usize>, key: &str, message: impl Into<String>) {
        let mut m = message.into();
        if line.is_none() && self.raw(key).is_some() {
            m.push_str(&format!(" (from {})", ini::env_name(&self.title, key)));
        }
        self.cx.error(
            line.or(Some(self.section.line)),
            Some(&self.title),
            Some(key),
            m,
        );
    }

    fn parse<T>(&self, key: &str, f: impl Fn(&str) -> Result<T, String>) -> Option<T> {
        let (v, line) = self.raw(key)?;
        match f(&v) {
            Ok(t) => Some(t),
            Err(m) => {
                self.err(line, key, m);
                None
            }
        }
    }

    fn required<T>(&self, key: &str, f: impl Fn(&str) -> Result<T, String>) -> Option<T> {
        if self.raw(key).is_none() {
            self.cx.error(
                Some(self.section.line),
                Some(&self.title),
                Some(key),
                "required key is missing",
            );
            return None;
        }
        self.parse(key, f)
    }

    fn string(&self, key: &str, default: &str) -> String {
        self.parse(key, |v| Ok(v.to_string()))
            .unwrap_or_else(|| default.to_string())
    }

    fn num<T: std::str::FromStr>(&self, key: &str, default: T) -> T {
        self.parse(key, |v| {
            v.trim()
                .parse::<T>()
                .map_err(|_| format!("expected a whole number, got {v:?}"))
        })
        .unwrap_or(default)
    }

    fn secs(&self, key: &str, default: u64) -> Duration {
        Duration::from_secs(self.num(key, default))
    }

    fn ip(&self, key: &str, default: IpAddr) -> IpAddr {
        self.parse(key, |v| {
            v.trim()
                .parse::<IpAddr>()
                .map_err(|_| format!("expected an IP address, got {v:?}"))
        })
        .unwrap_or(default)
    }
}

fn regex(v: &str) -> Result<Regex, String> {
    Regex::new(v).map_err(|e| format!("bad regex {v:?}: {e}"))
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn ips(v: &str) -> Result<Vec<IpNet>, String> {
    list(v)
        .iter()
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("expected addresses or CIDR blocks, got {s:?}"))
        })
        .collect()
}

fn bind_modes(v: &str) -> Result<BindModes, String> {
    let mut m = BindModes {
        tx: false,
        rx: false,
        trx: false,
    };
    for s in list(v) {
        match s.to_ascii_lowercase().as_str() {
            "tx" | "transmitter" => m.tx = true,
            "rx" | "receiver" => m.rx = true,
            "trx" | "transceiver" => m.trx = true,
            other => return Err(format!("unknown bind mode {other:?} (tx, rx, trx)")),
        }
    }
    Ok(m)
}

fn choice<T: Copy>(v: &str, options: &[(&str, T)]) -> Result<T, String> {
    let l = v.trim().to_ascii_lowercase();
    options
        .iter()
        .find(|(name, _)| *name == l)
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            format!(
                "expected one of {}, got {v:?}",
                options.iter().map(|o| o.0).collect::<Vec<_>>().join(", ")
            )
        })
}

/// `YYYY-MM-DD` as days since 1970-01-01.
fn date(s: &str) -> Result<i64, String> {
    let bad = || format!("expected a date YYYY-MM-DD, got {s:?}");
    let p: Vec<&str> = s.trim().split('-').collect();
    let [y, m, d] = p.as_slice() else {
        return Err(bad());
    };
    let (y, m, d): (i64, u8, u8) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if !(1..=12).contains(&m) || d == 0 || d > smpp::time::days_in_month(y, m) {
        return Err(bad());
    }
    Ok(smpp::time::days_from_civil(y, m, d))
}

/// `hh:mm[:ss]` as seconds of the day.
fn time_of_day(s: &str) -> Result<u32, String> {
    let bad = || format!("expected a time hh:mm[:ss], got {s:?}");
    let p: Vec<u32> = s
        .trim()
        .split(':')
        .map(|x| x.parse::<u32>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let (h, m, sec) = match p.as_slice() {
        [h, m] => (*h, *m, 0),
        [h, m, s] => (*h, *m, *s),
        _ => return Err(bad()),
    };
    if h > 23 || m > 59 || sec > 59 {
        return Err(bad());
    }
    Ok(h * 3600 + m * 60 + sec)
}

fn range<T>(v: &str, f: impl Fn(&str) -> Result<T, String>) -> Result<(T, T), String> {
    let (a, b) = v
        .split_once(';')
        .ok_or_else(|| format!("expected FROM;TO, got {v:?}"))?;
    Ok((f(a)?, f(b)?))
}

const SMPP_SERVER_KEYS: &[&str] = &[
    "id",
    "bind",
    "port",
    "sessioninittimersecs",
    "enquirelinktimersecs",
    "inactivitytimersecs",
    "responsetimersecs",
    "pdureadtimersecs",
    "max_binds",
    "bind_fail_limit",
    "bind_fail_cooldown",
    "tls_port",
    "tls_cert",
    "tls_key",
];
const ACCOUNT_KEYS: &[&str] = &[
    "credit",
    "throughput",
    "burst",
    "max_binds",
    "allowed_ips",
    "bind_modes",
    "source_addr",
];
const USER_KEYS: &[&str] = &[
    "password",
    "group",
    "credit",
    "throughput",
    "burst",
    "max_binds",
    "allowed_ips",
    "bind_modes",
    "source_addr",
    "mo_reassemble",
];
const CONNECTOR_KEYS: &[&str] = &[
    "host",
    "port",
    "username",
    "password",
    "system_type",
    "bind",
    "sessions",
    "window",
    "submit_throughput",
    "enquire_link",
    "response_timeout",
    "reconnect_delay",
    "id_format",
    "submit_id_format",
    "split",
    "dlr_expiry",
];

pub(super) fn build(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let sections = ini::parse(text).map_err(|errs| {
        ConfigErrors(
            errs.into_iter()
                .map(|e| ConfigError {
                    file: file.to_string(),
                    line: Some(e.line),
                    section: e.section,
                    key: e.key,
                    message: e.message,
                })
                .collect(),
        )
    })?;
    let cx = Cx {
        file,
        env,
        errors: RefCell::new(Vec::new()),
    };
    let localhost = IpAddr::from([127, 0, 0, 1]);

    let one = |kind: &str| sections.iter().find(|s| s.kind == kind);
    let empty = |kind: &str| Section {
        kind: kind.to_string(),
        name: String::new(),
        line: 1,
        entries: Vec::new(),
    };

    let s_empty = empty("smpp-server");
    let s = Sec::new(
        &cx,
        one("smpp-server").unwrap_or(&s_empty),
        SMPP_SERVER_KEYS,
    );
    let tls = s.raw("tls_port").map(|_| TlsListener {
        port: s.num("tls_port", 3550),
        cert: s
            .required("tls_cert", |v| Ok(v.to_string()))
            .unwrap_or_default(),
        key: s
            .required("tls_key", |v| Ok(v.to_string()))
            .unwrap_or_default(),
    });
    let smpp_server = SmppServer {
        id: s.string("id", "smpps_01"),
        bind: s.ip("bind", localhost),
        port: s.num("port", 2775),
        session_init_timer: s.secs("sessioninittimersecs", 30),
        enquire_link_timer: s.secs("enquirelinktimersecs", 30),
        inactivity_timer: s.secs("inactivitytimersecs", 300),
        response_timer: s.secs("responsetimersecs", 60),
        pdu_read_timer: s.secs("pdureadtimersecs", 30),
        max_binds: s.num("max_binds", 10_000),
        bind_fail_limit: s.num("bind_fail_limit", 10),
        bind_fail_cooldown: s.secs("bind_fail_cooldown", 60),
        tls,
    };

    let h_empty = empty("http-api");
    let h = Sec::new(&cx, one("http-api").unwrap_or(&h_empty), &["bind", "port"]);
    let http_api = HttpApi {
        bind: h.ip("bind", localhost),
        port: h.num("port", 1401),
    };

    let st_empty = empty("store");
    let st = Sec::new(
        &cx,
        one("store").unwrap_or(&st_empty),
        &["backend", "url", "queue_limit"],
    );
    let queue_limit: u64 = st.num("queue_limit", 1_000_000);
    let store = match st
        .parse("backend", |v| {
            choice(v, &[("memory", false), ("redis", true)])
        })
        .unwrap_or(false)
    {
        false => StoreConfig::Memory,
        true => StoreConfig::Redis {
            url: Secret::new(st.string("url", "redis://127.0.0.1:6379/0")),
        },
    };

    let l_empty = empty("log");
    let l = Sec::new(&cx, one("log").unwrap_or(&l_empty), &["level", "format"]);
    let log = LogConfig {
        level: l.string("level", "info"),
        format: l
            .parse("format", |v| {
                choice(v, &[("text", LogFormat::Text), ("json", LogFormat::Json)])
            })
            .unwrap_or(LogFormat::Text),
    };

    let mut groups = BTreeMap::new();
    let mut users = BTreeMap::new();
    let mut connectors = BTreeMap::new();
    let mut filters = BTreeMap::new();
    let mut mt_routes: Vec<(MtRoute, usize)> = Vec::new();
    let mut mo_routes: Vec<(MoRoute, usize)> = Vec::new();

    for section in &sections {
        let named = |what: &str| {
            if section.name.is_empty() {
                cx.error(
                    Some(section.line),
                    Some(&section.title()),
                    None,
                    format!("needs a name: [{what}:NAME]"),
                );
                false
            } else {
                true
            }
        };
        match section.kind.as_str() {
            "smpp-server" | "http-api" | "store" | "log" => {
                if !section.name.is_empty() {
                    cx.error(Some(section.line), Some(&section.title()), None, format!("[{}] takes no name", section.kind));
                }
            }
            "group" if named("group") => {
                let g = Sec::new(&cx, section, ACCOUNT_KEYS);
                groups.insert(section.name.clone(), Group {
                    name: section.name.clone(),
                    credit: g.parse("credit", Credit::parse),
                    throughput: g.parse("throughput", |v| v.trim().parse().map_err(|_| format!("expected a whole number, got {v:?}"))),
                    burst: g.parse("burst", |v| v.trim().parse().map_err(|_| format!("expected a whole number, got {v:?}"))),
                    max_binds: g.parse("max_binds", |v| v.trim().parse().map_err(|_| format!("expected a whole number, got {v:?}"))),
                    allowed_ips: g.parse("allowed_ips", ips),
                    bind_modes: g.parse("bind_modes", bind_modes),
                    source_addr: g.parse("source_addr", regex),
                });
            }
            "user" | "connector" | "filter" | "mt-route" | "mo-route" => {
                named(&section.kind);
            }
            _ => cx.error(
                Some(section.line),
                Some(&section.title()),
                None,
                "unknown section (smpp-server, http-api, store, log, group:, user:, connector:, filter:, mt-route:, mo-route:)",
            ),
        }
    }

    for section in sections.iter().filter(|s| !s.name.is_empty()) {
        match section.kind.as_str() {
            "user" => {
                let u = Sec::new(&cx, section, USER_KEYS);
                let group_name = u.parse("group", |v| Ok(v.trim().to_string()));
                let group = match &group_name {
                    Some(g) => match groups.get(g) {
                        Some(g) => g.clone(),
                        None => {
                            u.err(
                                u.raw("group").and_then(|r| r.1),
                                "group",
                                format!("no [group:{g}]"),
                            );
                            Group::default()
                        }
                    },
                    None => Group::default(),
                };
                let password = u
                    .required("password", |v| {
                        Ok(if v.starts_with("$argon2") {
                            Password::Phc(Secret::new(v))
                        } else {
                            Password::Plain(Secret::new(v))
                        })
                    })
                    .unwrap_or(Password::Plain(Secret::new("")));
                let throughput = u
                    .parse("throughput", |v| {
                        v.trim()
                            .parse()
                            .map_err(|_| format!("expected a whole number, got {v:?}"))
                    })
                    .or(group.throughput)
                    .unwrap_or(0);
                users.insert(
                    section.name.clone(),
                    User {
                        system_id: section.name.clone(),
                        password,
                        group: group_name,
                        credit: u
                            .parse("credit", Credit::parse)
                            .or(group.credit)
                            .unwrap_or(Credit::Unlimited),
                        throughput,
                        burst: u
                            .parse("burst", |v| {
                                v.trim()
                                    .parse()
                                    .map_err(|_| format!("expected a whole number, got {v:?}"))
                            })
                            .or(group.burst)
                            .unwrap_or(throughput.max(1)),
                        max_binds: u
                            .parse("max_binds", |v| {
                                v.trim()
                                    .parse()
                                    .map_err(|_| format!("expected a whole number, got {v:?}"))
                            })
                            .or(group.max_binds)
                            .unwrap_or(10),
                        allowed_ips: u
                            .parse("allowed_ips", ips)
                            .or(group.allowed_ips)
                            .unwrap_or_else(|| {
                                vec![IpNet::V4(Default::default()), IpNet::V6(Default::default())]
                            }),
                        bind_modes: u
                            .parse("bind_modes", bind_modes)
                            .or(group.bind_modes)
                            .unwrap_or(BindModes {
                                tx: true,
                                rx: true,
                                trx: true,
                            }),
                        source_addr: u
                            .parse("source_addr", regex)
                            .or(group.source_addr)
                            .unwrap_or_else(match_all),
                        mo_reassemble: u.parse("mo_reassemble", yes_no).unwrap_or(false),
                    },
                );
            }
            "connector" => {
                let c = Sec::new(&cx, section, CONNECTOR_KEYS);
                connectors.insert(
                    section.name.clone(),
                    Connector {
                        name: section.name.clone(),
                        host: c
                            .required("host", |v| Ok(v.trim().to_string()))
                            .unwrap_or_default(),
                        port: c
                            .required("port", |v| {
                                v.trim()
                                    .parse()
                                    .map_err(|_| format!("expected a port number, got {v:?}"))
                            })
                            .unwrap_or(0),
                        username: c
                            .required("username", |v| Ok(v.to_string()))
                            .unwrap_or_default(),
                        password: Secret::new(c.string("password", "")),
                        system_type: c.string("system_type", ""),
                        bind: c
                            .parse("bind", |v| {
                                choice(
                                    v,
                                    &[
                                        ("trx", ConnectorBind::Transceiver),
                                        ("tx+rx", ConnectorBind::TransmitterAndReceiver),
                                    ],
                                )
                            })
                            .unwrap_or(ConnectorBind::Transceiver),
                        sessions: c.num("sessions", 1).max(1),
                        window: c.num("window", 64).max(1),
                        submit_throughput: c.num("submit_throughput", 0),
                        enquire_link: c.secs("enquire_link", 30),
                        response_timeout: c.secs("response_timeout", 60),
                        reconnect_delay: c.secs("reconnect_delay", 5),
                        id_format: c.parse("id_format", id_format).unwrap_or(IdFormat::Auto),
                        submit_id_format: {
                            // (read quietly: `id_format` reports its own errors)
                            let receipts = c.raw("id_format").and_then(|(v, _)| id_format(&v).ok());
                            let submits = c.parse("submit_id_format", id_format);
                            // `auto` keys ids by their text, hex/dec by their
                            // value: the two sides must agree on which.
                            if let Some(s) = submits {
                                let r = receipts.unwrap_or(IdFormat::Auto);
                                if (r == IdFormat::Auto) != (s == IdFormat::Auto) {
                                    let line = c.raw("submit_id_format").and_then(|(_, l)| l);
                                    c.err(
                                        line,
                                        "submit_id_format",
                                        "with id_format, either both auto or both hex/dec",
                                    );
                                }
                            }
                            submits.or(receipts).unwrap_or(IdFormat::Auto)
                        },
                        split: c
                            .parse("split", |v| {
                                choice(
                                    v,
                                    &[
                                        ("udh", Method::Udh8),
                                        ("udh16", Method::Udh16),
                                        ("sar", Method::Sar),
                                        ("payload", Method::Payload),
                                    ],
                                )
                            })
                            .unwrap_or(Method::Udh8),
                        dlr_expiry: c.secs("dlr_expiry", 86_400),
                    },
                );
            }
            "filter" => {
                let f = Sec::new(&cx, section, &["type", "value"]);
                let kind = f.required("type", |v| Ok(v.trim().to_ascii_lowercase()));
                let Some(value) = f.required("value", |v| Ok(v.to_string())) else {
                    continue;
                };
                let Some(kind) = kind else { continue };
                let line = f.raw("value").and_then(|r| r.1);
                let parsed = match kind.as_str() {
                    "user" => Ok(FilterKind::User(value.trim().to_string())),
                    "group" => Ok(FilterKind::Group(value.trim().to_string())),
                    "source_addr" => regex(&value).map(FilterKind::SourceAddr),
                    "destination_addr" => regex(&value).map(FilterKind::DestinationAddr),
                    "short_message" => regex(&value).map(FilterKind::ShortMessage),
                    "connector" => Ok(FilterKind::Connector(value.trim().to_string())),
                    "date" => range(&value, date).map(|(from, to)| FilterKind::Date { from, to }),
                    "time" => {
                        range(&value, time_of_day).map(|(from, to)| FilterKind::Time { from, to })
                    }
                    "tag" => value
                        .trim()
                        .parse()
                        .map(FilterKind::Tag)
                        .map_err(|_| format!("expected a tag number, got {value:?}")),
                    other => {
                        f.err(f.raw("type").and_then(|r| r.1), "type", format!("unknown filter type {other:?} (user, group, source_addr, destination_addr, short_message, connector, date, time, tag)"));
                        continue;
                    }
                };
                match parsed {
                    Ok(kind) => {
                        filters.insert(
                            section.name.clone(),
                            Filter {
                                name: section.name.clone(),
                                kind,
                            },
                        );
                    }
                    Err(m) => f.err(line, "value", m),
                }
            }
            "mt-route" | "mo-route" => {
                let mt = section.kind == "mt-route";
                let Ok(order) = section.name.trim().parse::<u32>() else {
                    cx.error(
                        Some(section.line),
                        Some(&section.title()),
                        None,
                        "the name of a route is its order, a whole number",
                    );
                    continue;
                };
                let keys: &[&str] = if mt {
                    &["type", "connectors", "filters", "rate"]
                } else {
                    &["type", "users", "filters"]
                };
                let r = Sec::new(&cx, section, keys);
                let route_filters = r.parse("filters", |v| Ok(list(v))).unwrap_or_default();
                if mt {
                    let Some(kind) = r.required("type", |v| {
                        choice(
                            v,
                            &[
                                ("default", MtRouteType::Default),
                                ("static", MtRouteType::Static),
                                ("roundrobin", MtRouteType::RoundRobin),
                                ("failover", MtRouteType::Failover),
                            ],
                        )
                    }) else {
                        continue;
                    };
                    let targets = r
                        .required("connectors", |v| Ok(list(v)))
                        .unwrap_or_default();
                    let rate = r.parse("rate", parse_micro).unwrap_or(0);
                    if rate < 0 {
                        r.err(
                            r.raw("rate").and_then(|x| x.1),
                            "rate",
                            "a rate cannot be negative",
                        );
                    }
                    mt_routes.push((
                        MtRoute {
                            order,
                            kind,
                            connectors: targets,
                            filters: route_filters,
                            rate: Credit::Micro(rate),
                        },
                        section.line,
                    ));
                } else {
                    let Some(kind) = r.required("type", |v| {
                        choice(
                            v,
                            &[
                                ("default", MoRouteType::Default),
                                ("static", MoRouteType::Static),
                            ],
                        )
                    }) else {
                        continue;
                    };
                    let targets = r.required("users", |v| Ok(list(v))).unwrap_or_default();
                    mo_routes.push((
                        MoRoute {
                            order,
                            kind,
                            users: targets,
                            filters: route_filters,
                        },
                        section.line,
                    ));
                }
            }
            _ => {}
        }
    }

    // Cross-references and route rules.
    let route_err = |line: usize, kind: &str, order: u32, key: Option<&str>, m: String| {
        cx.error(Some(line), Some(&format!("{kind}:{order}")), key, m);
    };
    let mut orders = BTreeMap::new();
    for (r, line) in &mt_routes {
        if let Some(first) = orders.insert(r.order, *line) {
            route_err(
                *line,
                "mt-route",
                r.order,
                None,
                format!(
                    "two mt-routes with order {} (the other on line {first})",
                    r.order
                ),
            );
        }
        for c in &r.connectors {
            if !connectors.contains_key(c) {
                route_err(
                    *line,
                    "mt-route",
                    r.order,
                    Some("connectors"),
                    format!("no [connector:{c}]"),
                );
            }
        }
        if r.connectors.is_empty() {
            route_err(
                *line,
                "mt-route",
                r.order,
                Some("connectors"),
                "names no connector".into(),
            );
        }
        if matches!(r.kind, MtRouteType::Default | MtRouteType::Static) && r.connectors.len() > 1 {
            route_err(
                *line,
                "mt-route",
                r.order,
                Some("connectors"),
                "a default or static route has exactly one connector".into(),
            );
        }
        check_filters(&cx, &filters, &r.filters, *line, "mt-route", r.order, true);
        if (r.order == 0) != (r.kind == MtRouteType::Default) {
            route_err(
                *line,
                "mt-route",
                r.order,
                Some("type"),
                "the default route, and only it, has order 0".into(),
            );
        }
        if r.kind == MtRouteType::Default && !r.filters.is_empty() {
            route_err(
                *line,
                "mt-route",
                r.order,
                Some("filters"),
                "the default route takes no filters".into(),
            );
        }
    }
    if !mt_routes
        .iter()
        .any(|(r, _)| r.kind == MtRouteType::Default)
    {
        cx.error(
            None,
            None,
            None,
            "no default route: add [mt-route:0] with type = default",
        );
    }
    let mut orders = BTreeMap::new();
    for (r, line) in &mo_routes {
        if let Some(first) = orders.insert(r.order, *line) {
            route_err(
                *line,
                "mo-route",
                r.order,
                None,
                format!(
                    "two mo-routes with order {} (the other on line {first})",
                    r.order
                ),
            );
        }
        for u in &r.users {
            if !users.contains_key(u) {
                route_err(
                    *line,
                    "mo-route",
                    r.order,
                    Some("users"),
                    format!("no [user:{u}]"),
                );
            }
        }
        if r.users.len() != 1 {
            route_err(
                *line,
                "mo-route",
                r.order,
                Some("users"),
                "an mo-route names exactly one user".into(),
            );
        }
        check_filters(&cx, &filters, &r.filters, *line, "mo-route", r.order, false);
        if (r.order == 0) != (r.kind == MoRouteType::Default) {
            route_err(
                *line,
                "mo-route",
                r.order,
                Some("type"),
                "the default route, and only it, has order 0".into(),
            );
        }
    }

    let mut errors = cx.errors.into_inner();
    // In file order; errors about the whole file last.
    errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    let mut mt: Vec<MtRoute> = mt_routes.into_iter().map(|r| r.0).collect();
    mt.sort_by_key(|r| std::cmp::Reverse(r.order));
    let mut mo: Vec<MoRoute> = mo_routes.into_iter().map(|r| r.0).collect();
    mo.sort_by_key(|r| std::cmp::Reverse(r.order));
    Ok(Config {
        file: file.to_string(),
        smpp_server,
        http_api,
        store,
        queue_limit,
        log,
        groups,
        users,
        connectors,
        filters,
        mt_routes: mt,
        mo_routes: mo,
    })
}

fn check_filters(
    cx: &Cx<'_>,
    filters: &BTreeMap<String, Filter>,
    names: &[String],
    line: usize,
    kind: &str,
    order: u32,
    mt: bool,
) {
    for f in names {
        match filters.get(f) {
            None => cx.error(
                Some(line),
                Some(&format!("{kind}:{order}")),
                Some("filters"),
                format!("no [filter:{f}]"),
            ),
            Some(filter) => {
                let ok = match filter.kind {
                    FilterKind::User(_) | FilterKind::Group(_) => mt,
                    FilterKind::Connector(_) => !mt,
                    _ => true,
                };
                if !ok {
                    cx.error(
                        Some(line),
                        Some(&format!("{kind}:{order}")),
                        Some("filters"),
                        format!("filter {f:?} does not apply to {kind}s"),
                    );
                }
            }
        }
    }
}

/// The regex that matches every source address.
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

fn yes_no(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err(format!("expected yes or no, got {v:?}")),
    }
}

fn match_all() -> Regex {
    Regex::new(".*").expect("`.*` is a valid regex")
}
