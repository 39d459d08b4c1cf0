//! The `tern` binary's commands: check-config, hash-password, --version.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use e2e::bin;

fn repo_file(p: &str) -> String {
    format!("{}/../{p}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn check_config_accepts_the_shipped_file() {
    let out = Command::new(bin("tern"))
        .args(["check-config", "-c", &repo_file("etc/tern.ini")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok (1 users"));
    // The demo password is plain text: warned about, not refused.
    assert!(String::from_utf8_lossy(&out.stderr).contains("[user:demo] password: plain text"));
}

#[test]
fn check_config_accepts_the_production_example_without_warnings() {
    let out = Command::new(bin("tern"))
        .args(["check-config", "-c", &repo_file("deploy/tern.ini")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ok (2 users, 2 connectors"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Its passwords are argon2id hashes: nothing to warn about.
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn check_config_names_file_section_and_key() {
    let dir = std::env::temp_dir().join(format!("tern-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.ini");
    std::fs::write(
        &path,
        "[smpp-server]\nport = many\n[mt-route:0]\ntype = default\nconnectors = nowhere\n",
    )
    .unwrap();
    let out = Command::new(bin("tern"))
        .args(["check-config", "-c", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let p = path.display();
    assert!(
        err.contains(&format!(
            "{p}:2: [smpp-server] port: expected a whole number"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{p}:3: [mt-route:0] connectors: no [connector:nowhere]"
        )),
        "{err}"
    );
    let out = Command::new(bin("tern"))
        .args(["check-config", "-c", "/nonexistent/tern.ini"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/tern.ini: cannot read"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hash_password_prints_a_phc_string_that_verifies() {
    let mut child = Command::new(bin("tern"))
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let phc = String::from_utf8(out.stdout).unwrap();
    let phc = phc.trim();
    assert!(phc.starts_with("$argon2id$"), "{phc}");
    let parsed = PasswordHash::new(phc).unwrap();
    // The trailing newline was not part of the password.
    assert!(
        Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok()
    );
    assert!(
        Argon2::default()
            .verify_password(b"correct horse\n", &parsed)
            .is_err()
    );
}

#[test]
fn version() {
    let out = Command::new(bin("tern")).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("tern "));
}
