//! HTTP requests for the tests, made by tests/interop/http_request.py
//! with Python's urllib (a client nobody here wrote, making the requests
//! a Jasmin user's client makes).

use std::io::Write;
use std::process::{Command, Stdio};

/// What urllib got.
pub struct Answer {
    pub status: u16,
    pub headers: serde_json::Value,
    pub body: String,
}

/// One request by tests/interop/http_request.py.
pub fn http(method: &str, url: &str, body: Option<&str>, headers: &[(&str, &str)]) -> Answer {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/http_request.py");
    let mut h = serde_json::Map::new();
    for (k, v) in headers {
        h.insert((*k).into(), (*v).into());
    }
    let req = serde_json::json!({"method": method, "url": url, "body": body, "headers": h});
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

/// `s` with the characters a query value cannot carry percent-encoded.
pub fn encode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .unwrap()
        .trim_start_matches('=')
        .to_string()
}
