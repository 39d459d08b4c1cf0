//! The TLS keys of the configuration: what they default to and the
//! errors naming file, line, section and key. (Files that exist are
//! exercised end to end in tests/tls.rs, with certificates made by
//! openssl.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gateway::config::*;

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::parse(text, "tern.ini", &|_| None)
}

fn errors(text: &str) -> Vec<String> {
    parse(text)
        .unwrap_err()
        .0
        .iter()
        .map(|e| e.to_string())
        .collect()
}

fn connector(extra: &str) -> String {
    format!("[connector:up]\nhost = 192.0.2.1\nport = 3550\nusername = u\n{extra}")
}

#[test]
fn tls_is_off_unless_asked_for() {
    let c = parse(&connector("")).unwrap();
    assert_eq!(c.connectors["up"].tls, None);
    // The other TLS keys are not read without tls = yes.
    let c = parse(&connector("tls = no\ntls_ca = /nonexistent/ca.pem\n")).unwrap();
    assert_eq!(c.connectors["up"].tls, None);
    assert!(parse("").unwrap().smpp_server.tls.is_none());
}

#[test]
fn the_server_name_defaults_to_host() {
    let c = parse(&connector("tls = yes\ntls_verify = no\n")).unwrap();
    let tls = c.connectors["up"].tls.clone().unwrap();
    assert_eq!(tls.server_name, "192.0.2.1");
    assert!(!tls.verify());
    let c = parse(&connector(
        "tls = yes\ntls_verify = no\ntls_server_name = smsc.example.net\n",
    ))
    .unwrap();
    assert_eq!(
        c.connectors["up"].tls.as_ref().unwrap().server_name,
        "smsc.example.net"
    );
}

#[test]
fn the_system_bundle_is_trusted_by_default() {
    if !std::path::Path::new(SYSTEM_CA_BUNDLE).exists() {
        let e = errors(&connector("tls = yes\n"));
        assert!(e[0].starts_with("tern.ini:1: [connector:up] tls_ca: not set, and the system's CA bundle: cannot read"), "{e:?}");
        return;
    }
    let c = parse(&connector("tls = yes\n")).unwrap();
    let tls = c.connectors["up"].tls.clone().unwrap();
    assert!(tls.verify());
    assert_eq!(tls.ca.as_ref().unwrap().path, SYSTEM_CA_BUNDLE);
    assert!(tls.connector().is_ok());
}

#[test]
fn tls_errors_name_file_line_section_and_key() {
    assert_eq!(
        errors(&connector("tls = yes\ntls_ca = /nonexistent/ca.pem\n")),
        vec![
            "tern.ini:6: [connector:up] tls_ca: cannot read /nonexistent/ca.pem: No such file or directory (os error 2)"
        ]
    );
    assert_eq!(
        errors(&connector(
            "tls = yes\ntls_verify = no\ntls_server_name = a b\n"
        )),
        vec![
            "tern.ini:7: [connector:up] tls_server_name: \"a b\" is not a DNS name or IP address for TLS"
        ]
    );
    assert_eq!(
        errors(&connector("tls = sometimes\n")),
        vec!["tern.ini:5: [connector:up] tls: expected yes or no, got \"sometimes\""]
    );
    assert_eq!(
        errors("[smpp-server]\ntls_port = 3550\n"),
        vec![
            "tern.ini:1: [smpp-server] tls_cert: required key is missing",
            "tern.ini:1: [smpp-server] tls_key: required key is missing",
        ]
    );
    assert_eq!(
        errors(
            "[smpp-server]\ntls_port = x\ntls_cert = /nonexistent/c.pem\ntls_key = /nonexistent/k.pem\n"
        ),
        vec![
            "tern.ini:2: [smpp-server] tls_port: expected a whole number, got \"x\"",
            "tern.ini:3: [smpp-server] tls_cert: cannot read /nonexistent/c.pem: No such file or directory (os error 2)",
            "tern.ini:4: [smpp-server] tls_key: cannot read /nonexistent/k.pem: No such file or directory (os error 2)",
        ]
    );
}
