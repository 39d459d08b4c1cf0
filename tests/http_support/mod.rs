//! What the HTTP API's end-to-end tests share: one request by Python's
//! urllib (tests/interop/http_request.py, a client nobody here wrote), its
//! answer, and a tern configured with an HTTP API in front of smsc-sim.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};

use e2e::*;

/// What urllib got.
pub struct Answer {
    pub status: u16,
    pub headers: serde_json::Value,
    pub body: String,
}

/// One request by tests/interop/http_request.py.
pub fn http(method: &str, url: &str, body: Option<&str>, headers: &[(&str, &str)]) -> Answer {
    request(method, url, body, headers, None)
}

/// One request with HTTP Basic auth (encoded by Python).
pub fn http_basic(
    method: &str,
    url: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
    basic: (&str, &str),
) -> Answer {
    request(method, url, body, headers, Some(basic))
}

fn request(
    method: &str,
    url: &str,
    body: Option<&str>,
    headers: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> Answer {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/http_request.py");
    let mut h = serde_json::Map::new();
    for (k, v) in headers {
        h.insert((*k).into(), (*v).into());
    }
    let mut req = serde_json::json!({"method": method, "url": url, "body": body, "headers": h});
    if let Some((user, password)) = basic {
        req["basic"] = serde_json::json!([user, password]);
    }
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(req.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "http_request.py failed");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    Answer {
        status: v["status"].as_u64().unwrap() as u16,
        headers: v["headers"].clone(),
        body: v["body"].as_str().unwrap().to_string(),
    }
}

impl Answer {
    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// A header by name, whatever its case on the wire.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    }
}

pub fn get(url: &str) -> Answer {
    http("GET", url, None, &[])
}

/// The id in `Success "<id>"`.
pub fn success_id(a: &Answer) -> String {
    assert_eq!(a.status, 200, "{}", a.body);
    a.body
        .strip_prefix("Success \"")
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or_else(|| panic!("not a Jasmin success: {}", a.body))
        .to_string()
}

pub fn config(sim_port: u16, store: &str) -> String {
    config_with(sim_port, store, "")
}

/// [`config`] with `extra` sections (users, mo-routes) at its end.
pub fn config_with(sim_port: u16, store: &str, extra: &str) -> String {
    format!(
        "
[smpp-server]
bind = 127.0.0.1
port = {{smpp_port}}
[http-api]
bind = 127.0.0.1
port = {{http_port}}
{store}
[user:alice]
password = alice-pw
credit = 1
max_binds = 4
[user:free]
password = free-pw
throughput = 1
burst = 1
[user:bulk]
password = bulk-pw
[connector:sim]
host = 127.0.0.1
port = {sim_port}
username = alice
password = pw
reconnect_delay = 1
[filter:to-uk]
type = destination_addr
value = ^44
[mt-route:10]
type = static
connectors = sim
filters = to-uk
rate = 0.1
{extra}"
    )
}

pub fn start(store: &str) -> (Sim, Tern, String) {
    start_with(&[], store, "")
}

/// [`start`] with smsc-sim's `sim_args` and [`config_with`]'s `extra`.
pub fn start_with(sim_args: &[&str], store: &str, extra: &str) -> (Sim, Tern, String) {
    let sim = Sim::start(sim_args);
    let http_port = free_port();
    let tern = Tern::start_on(&config_with(sim.port, store, extra), free_port(), http_port);
    wait_for_port(http_port);
    (sim, tern, format!("http://127.0.0.1:{http_port}"))
}

/// `s` with the characters a query value cannot carry percent-encoded.
pub fn encode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .unwrap()
        .trim_start_matches('=')
        .to_string()
}
