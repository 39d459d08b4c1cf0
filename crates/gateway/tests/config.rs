//! The configuration: the shipped file, the dialect, overrides, and an
//! error for each thing an operator can get wrong, naming file, line,
//! section and key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use gateway::config::*;
use smpp::receipt::IdFormat;

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::parse(text, "tern.ini", &no_env)
}

const MINIMAL: &str = "[connector:up]\nhost = 127.0.0.1\nport = 2776\nusername = u\npassword = p\n[mt-route:0]\ntype = default\nconnectors = up\n";

fn errors(text: &str) -> Vec<String> {
    parse(text)
        .unwrap_err()
        .0
        .iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn the_shipped_config_reads() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../etc/tern.ini");
    let c = Config::load(&path).unwrap();
    assert_eq!(c.smpp_server.port, 2775);
    assert_eq!(c.smpp_server.session_init_timer, Duration::from_secs(30));
    assert_eq!(c.http_api.port, 1401);
    assert_eq!(c.store, StoreConfig::Memory);
    let demo = &c.users["demo"];
    assert_eq!(demo.password, Password::Plain(Secret::new("demo")));
    assert_eq!(demo.credit, Credit::Unlimited);
    assert_eq!((demo.throughput, demo.burst, demo.max_binds), (100, 100, 4));
    assert!(demo.bind_modes.tx && demo.bind_modes.rx && demo.bind_modes.trx);
    assert_eq!(c.connectors["sim"].window, 64);
    assert_eq!(c.mt_routes.len(), 1);
    assert_eq!(c.mo_routes[0].users, vec!["demo".to_string()]);
}

#[test]
fn keys_are_case_insensitive_and_comments_stripped() {
    let c = parse(&format!(
        "[SMPP-Server]\nSessionInitTimerSecs = 7 ; seven\nPORT = 1234\n{MINIMAL}"
    ))
    .unwrap();
    assert_eq!(c.smpp_server.session_init_timer, Duration::from_secs(7));
    assert_eq!(c.smpp_server.port, 1234);
}

#[test]
fn regexes_keep_their_backslashes() {
    let c = parse(&format!("[filter:fr]\ntype = destination_addr\nvalue = ^\\+?33\\d{{9}}$\n[mt-route:10]\ntype = static\nconnectors = up\nfilters = fr\n{MINIMAL}")).unwrap();
    let FilterKind::DestinationAddr(re) = &c.filters["fr"].kind else {
        panic!()
    };
    assert!(re.is_match("+33612345678"));
    assert!(!re.is_match("+3361234567"));
    assert_eq!(
        c.mt_routes.iter().map(|r| r.order).collect::<Vec<_>>(),
        vec![10, 0]
    );
}

#[test]
fn group_defaults_and_user_overrides() {
    let c = parse(&format!(
        "[group:g]\nthroughput = 50\ncredit = 12.5\nbind_modes = tx\n[user:a]\npassword = x\ngroup = g\n[user:b]\npassword = y\ngroup = g\nthroughput = 5\ncredit = unlimited\n{MINIMAL}"
    ))
    .unwrap();
    assert_eq!(c.users["a"].throughput, 50);
    assert_eq!(c.users["a"].credit, Credit::Micro(12_500_000));
    assert!(c.users["a"].bind_modes.tx && !c.users["a"].bind_modes.rx);
    assert_eq!(c.users["b"].throughput, 5);
    assert_eq!(c.users["b"].credit, Credit::Unlimited);
    assert!(
        c.users["b"]
            .allowed_ips
            .iter()
            .any(|n| n.contains(&"10.1.2.3".parse::<std::net::IpAddr>().unwrap()))
    );
}

#[test]
fn environment_overrides() {
    let env = |name: &str| match name {
        "TERN_SMPP_SERVER__PORT" => Some("4000".to_string()),
        "TERN_USER_DEMO__PASSWORD" => Some("$argon2id$v=19$m=19456,t=2,p=1$abc$def".to_string()),
        "TERN_CONNECTOR_UP__WINDOW" => Some("lots".to_string()),
        _ => None,
    };
    let text = format!("[user:demo]\npassword = plain\n{MINIMAL}");
    let e = Config::parse(&text, "tern.ini", &env).unwrap_err();
    assert_eq!(e.0.len(), 1);
    let msg = e.0[0].to_string();
    assert!(
        msg.contains("[connector:up] window") && msg.contains("TERN_CONNECTOR_UP__WINDOW"),
        "{msg}"
    );
    let env2 = |name: &str| {
        if name == "TERN_CONNECTOR_UP__WINDOW" {
            None
        } else {
            env(name)
        }
    };
    let c = Config::parse(&text, "tern.ini", &env2).unwrap();
    assert_eq!(c.smpp_server.port, 4000);
    assert!(matches!(c.users["demo"].password, Password::Phc(_)));
}

#[test]
fn every_error_names_file_line_section_and_key() {
    let e = errors(&format!(
        "[smpp-server]\nport = lots\nfrobnicate = 1\n{MINIMAL}"
    ));
    assert_eq!(e, vec![
        "tern.ini:2: [smpp-server] port: expected a whole number, got \"lots\"".to_string(),
        "tern.ini:3: [smpp-server] frobnicate: unknown key (allowed: id, bind, port, sessioninittimersecs, enquirelinktimersecs, inactivitytimersecs, responsetimersecs, pdureadtimersecs, max_binds, bind_fail_limit, bind_fail_cooldown, max_connections_per_ip, tls_port, tls_cert, tls_key)".to_string(),
    ]);
    let e = errors(&format!(
        "[smpp-server]\nmax_connections_per_ip = -1\n[http-api]\nmax_connections_per_ip = many\n{MINIMAL}"
    ));
    assert_eq!(
        e,
        vec![
            "tern.ini:2: [smpp-server] max_connections_per_ip: expected a whole number, got \"-1\""
                .to_string(),
            "tern.ini:4: [http-api] max_connections_per_ip: expected a whole number, got \"many\""
                .to_string(),
        ]
    );
    let e = errors(&format!(
        "[filter:bad]\ntype = source_addr\nvalue = ([\n{MINIMAL}"
    ));
    assert!(
        e[0].starts_with("tern.ini:3: [filter:bad] value: bad regex"),
        "{e:?}"
    );
    let e = errors(&format!(
        "[mt-route:5]\ntype = static\nconnectors = nowhere\nfilters = nothing\n{MINIMAL}"
    ));
    assert!(
        e.iter()
            .any(|m| m == "tern.ini:1: [mt-route:5] connectors: no [connector:nowhere]"),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m == "tern.ini:1: [mt-route:5] filters: no [filter:nothing]"),
        "{e:?}"
    );
    // No default route is not an error (issue 11): what no route
    // matches is refused at submit.
    let c = parse("[connector:up]\nhost = h\nport = 1\nusername = u\n").unwrap();
    assert!(c.mt_routes.is_empty());
    let e = errors(&format!(
        "{MINIMAL}[mt-route:00]\ntype = default\nconnectors = up\n"
    ));
    assert!(
        e.iter().any(|m| m.contains("two mt-routes with order 0")),
        "{e:?}"
    );
    let e = errors(&format!(
        "{MINIMAL}[mt-route:0]\ntype = default\nconnectors = up\n"
    ));
    assert!(
        e[0].contains("section written twice (first on line 6)"),
        "{e:?}"
    );
    let e = errors(&format!("[nonsense]\n{MINIMAL}"));
    assert!(
        e[0].starts_with("tern.ini:1: [nonsense]: unknown section"),
        "{e:?}"
    );
    let e = errors(&format!("[user:x]\ngroup = nogroup\n{MINIMAL}"));
    assert!(
        e.iter()
            .any(|m| m.contains("[user:x] group: no [group:nogroup]")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.contains("[user:x] password: required key is missing")),
        "{e:?}"
    );
    let e = errors(&format!(
        "[user:x]\npassword = p\ncredit = 1.2345678\nbind_modes = tx, fax\nallowed_ips = 10.0.0.0/33\n{MINIMAL}"
    ));
    assert_eq!(e.len(), 3, "{e:?}");
}

#[test]
fn secrets_do_not_print() {
    let c = parse(&format!("[user:demo]\npassword = hunter2\n{MINIMAL}")).unwrap();
    let debug = format!("{c:?}");
    assert!(!debug.contains("hunter2"));
    assert!(debug.contains("***"));
}

#[test]
fn filters_of_each_kind() {
    let c = parse(&format!(
        "[filter:d]\ntype = date\nvalue = 2026-01-01;2026-12-31\n[filter:t]\ntype = time\nvalue = 08:00;18:30:00\n[filter:tag]\ntype = tag\nvalue = 7\n[filter:c]\ntype = connector\nvalue = up\n[user:u]\npassword=p\n[mo-route:3]\ntype = static\nusers = u\nfilters = c, t\n{MINIMAL}"
    ))
    .unwrap();
    assert!(matches!(
        c.filters["t"].kind,
        FilterKind::Time {
            from: 28800,
            to: 66600
        }
    ));
    assert!(matches!(c.filters["tag"].kind, FilterKind::Tag(7)));
    let FilterKind::Date { from, to } = c.filters["d"].kind else {
        panic!()
    };
    assert_eq!(to - from, 364);
    // A connector filter on an mt-route is an error.
    let e = errors(&format!(
        "[filter:c]\ntype = connector\nvalue = up\n[mt-route:2]\ntype = static\nconnectors = up\nfilters = c\n{MINIMAL}"
    ));
    assert!(e[0].contains("does not apply to mt-routes"), "{e:?}");
}

#[test]
fn receipt_id_formats_and_mo_reassembly() {
    let c = parse(&MINIMAL.replace(
        "password = p\n",
        "password = p\nid_format = dec\nsubmit_id_format = hex\n",
    ))
    .unwrap();
    let up = &c.connectors["up"];
    assert_eq!(
        (up.id_format, up.submit_id_format),
        (IdFormat::Dec, IdFormat::Hex)
    );
    let c = parse(&MINIMAL.replace("password = p\n", "password = p\nid_format = hex\n")).unwrap();
    assert_eq!(
        c.connectors["up"].submit_id_format,
        IdFormat::Hex,
        "defaults to id_format"
    );
    let e = errors(&MINIMAL.replace("password = p\n", "password = p\nsubmit_id_format = hex\n"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("[connector:up]") && e[0].contains("submit_id_format"),
        "{e:?}"
    );
    let c = parse(&format!(
        "{MINIMAL}[user:u]\npassword = x\nmo_reassemble = yes\n"
    ))
    .unwrap();
    assert!(c.users["u"].mo_reassemble);
    let e = errors(&format!(
        "{MINIMAL}[user:u]\npassword = x\nmo_reassemble = maybe\n"
    ));
    assert!(e[0].contains("mo_reassemble"), "{e:?}");
}

#[test]
fn an_unnamed_group_is_one_error() {
    let e = errors(&format!("{MINIMAL}[group]\nmax_binds = 2\n"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("needs a name: [group:NAME]"), "{e:?}");
}

#[test]
fn routes_by_prefix_alone_need_no_default_route() {
    let c = parse(
        "[connector:up]\nhost = h\nport = 1\nusername = u\n\
         [filter:fr]\ntype = destination_addr\nvalue = ^33\n\
         [mt-route:10]\ntype = static\nconnectors = up\nfilters = fr\n",
    )
    .unwrap();
    assert_eq!(c.mt_routes.len(), 1);
    assert_eq!(c.mt_routes[0].order, 10);
    // Order 0 is still the default route's alone.
    let e = errors(
        "[connector:up]\nhost = h\nport = 1\nusername = u\n\
         [mt-route:0]\ntype = static\nconnectors = up\n",
    );
    assert!(e.iter().any(|m| m.contains("order 0")), "{e:?}");
}

#[test]
fn failover_after_and_reroute_on_belong_to_routes_with_a_next_connector() {
    let two = "[connector:b]\nhost = 127.0.0.1\nport = 2777\nusername = u\n";
    let c = parse(&format!(
        "{MINIMAL}{two}[mt-route:10]\ntype = failover\nconnectors = up, b\nfailover_after = 30\nreroute_on = ESME_RINVDSTADR, 0x45\n"
    ))
    .unwrap();
    let r = c.mt_routes.iter().find(|r| r.order == 10).unwrap();
    assert_eq!(r.failover_after, Duration::from_secs(30));
    assert!(r.reroutes_on(smpp::CommandStatus::ESME_RINVDSTADR));
    assert!(r.reroutes_on(smpp::CommandStatus::ESME_RSUBMITFAIL));
    assert!(!r.reroutes_on(smpp::CommandStatus::ESME_RINVSRCADR));
    // Defaults: never.
    let d = c.mt_routes.iter().find(|r| r.order == 0).unwrap();
    assert!(d.failover_after.is_zero() && d.reroute_on.is_empty());

    let e = errors(&format!(
        "{two}[mt-route:10]\ntype = static\nconnectors = b\nfailover_after = 30\nreroute_on = 0x0b\n{MINIMAL}"
    ));
    assert_eq!(
        e,
        vec![
            "tern.ini:5: [mt-route:10] failover_after: only a failover or roundrobin route has a next connector".to_string(),
            "tern.ini:5: [mt-route:10] reroute_on: only a failover or roundrobin route has a next connector".to_string(),
        ]
    );
    let e = errors(&format!(
        "{two}[mt-route:10]\ntype = roundrobin\nconnectors = up, b, up\n{MINIMAL}"
    ));
    assert_eq!(
        e,
        vec!["tern.ini:5: [mt-route:10] connectors: names \"up\" twice".to_string()]
    );
    let e = errors(&format!(
        "{two}[mt-route:10]\ntype = failover\nconnectors = up, b\nreroute_on = ESME_RTHROTTLED\nfailover_after = soon\n{MINIMAL}"
    ));
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e.iter()
            .any(|m| m
                .starts_with("tern.ini:8: [mt-route:10] reroute_on: ESME_RTHROTTLED is temporary")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m
                .starts_with("tern.ini:9: [mt-route:10] failover_after: expected a whole number")),
        "{e:?}"
    );
}

/// `[store] status_retention` and `[connector] dlr_expiry_state`: their
/// defaults, a value read, and a bad one an error naming the key.
#[test]
fn status_retention_and_dlr_expiry_state() {
    let c = parse(MINIMAL).unwrap();
    assert_eq!(c.status_retention, std::time::Duration::from_secs(172_800));
    assert_eq!(
        c.connectors["up"].dlr_expiry_state,
        smpp::MessageState::Unknown
    );
    let c = parse(&format!(
        "[store]\nstatus_retention = 3600\n{MINIMAL}dlr_expiry_state = expired\n"
    ))
    .unwrap_err();
    // dlr_expiry_state went to [mt-route:0], the last section: unknown.
    assert!(
        c.0.iter()
            .any(|e| e.to_string().contains("dlr_expiry_state"))
    );
    let text = MINIMAL.replace(
        "password = p\n",
        "password = p\ndlr_expiry_state = EXPIRED\n",
    );
    let c = parse(&format!("[store]\nstatus_retention = 3600\n{text}")).unwrap();
    assert_eq!(c.status_retention, std::time::Duration::from_secs(3600));
    assert_eq!(
        c.connectors["up"].dlr_expiry_state,
        smpp::MessageState::Expired
    );
    let text = MINIMAL.replace("password = p\n", "password = p\ndlr_expiry_state = late\n");
    assert_eq!(
        errors(&format!("[store]\nstatus_retention = 59\n{text}")),
        vec![
            "tern.ini:2: [store] status_retention: expected at least 60 seconds, got \"59\""
                .to_string(),
            "tern.ini:8: [connector:up] dlr_expiry_state: expected one of unknown, expired, got \"late\""
                .to_string(),
        ]
    );
}

/// What could never work is refused by check-config, naming the key: a
/// plain-text password longer than a bind carries, upstream bind fields
/// over SMPP 3.4's lengths, a store URL the redis client cannot read
/// (its value not quoted: it may hold a password), a PEM "file" that
/// never ends.
#[test]
fn values_that_could_never_work_are_refused() {
    let long_user = "[user:a]\npassword = abcdefghijabcdefghijabcdefghij123\n";
    let connector = "[connector:up]\nhost = h\nport = 1\nusername = sixteen-chars-xx\npassword = ninechars\nsystem_type = thirteen-char\n[mt-route:0]\ntype = default\nconnectors = up\n";
    let e = errors(&format!(
        "[store]\nbackend = redis\nurl = redis://:sekrit@127.0.0.1:port/0\n{long_user}{connector}"
    ));
    assert_eq!(
        e,
        vec![
            "tern.ini:3: [store] url: not a Redis URL (redis://[:password@]host:port/db; the value is not shown: it may hold a password)".to_string(),
            "tern.ini:5: [user:a] password: a plain-text password of at most 30 octets (what a bind carries), got 33".to_string(),
            "tern.ini:9: [connector:up] username: at most 15 octets in an SMPP 3.4 bind, got 16".to_string(),
            "tern.ini:10: [connector:up] password: at most 8 octets in an SMPP 3.4 bind, got 9".to_string(),
            "tern.ini:11: [connector:up] system_type: at most 12 octets in an SMPP 3.4 bind, got 13".to_string(),
        ]
    );
    assert!(
        e.iter()
            .all(|m| !m.contains("sekrit") && !m.contains("ninechars"))
    );
    // 30 and 8 are fine; an argon2 hash is any length.
    let ok = format!(
        "[user:a]\npassword = abcdefghijabcdefghijabcdefghij\n[user:b]\npassword = $argon2id$v=19$m=19456,t=2,p=1$NyHnVigRJ3tElhAiuKUMZQ$VLdpTJPCzJSC26DrnbxvwHP3au8FFtoIVPR4K8GMh+E\n{}",
        MINIMAL.replace("password = p\n", "password = eightchr\n")
    );
    parse(&ok).unwrap();
    let e = errors(&format!(
        "[smpp-server]\ntls_port = 2777\ntls_cert = /dev/zero\ntls_key = /dev/zero\n{MINIMAL}"
    ));
    assert_eq!(
        e,
        vec![
            "tern.ini:3: [smpp-server] tls_cert: cannot read /dev/zero: larger than 4194304 bytes"
                .to_string(),
            "tern.ini:4: [smpp-server] tls_key: cannot read /dev/zero: larger than 4194304 bytes"
                .to_string(),
        ]
    );
}
