//! Test certificates made with the `openssl` commands docs/tls.md gives
//! operators: a CA, and a server certificate it signs for `localhost` and
//! 127.0.0.1, in a directory of the test's own.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A CA and a server certificate it signed, as PEM files.
pub struct Pki {
    pub dir: PathBuf,
    /// The CA certificate (what clients trust).
    pub ca: PathBuf,
    /// The server's certificate and its key.
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Run `openssl` with `command`'s words in `dir`.
fn openssl(dir: &Path, command: &str) {
    let args: Vec<&str> = command.split_whitespace().collect();
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("the TLS tests need the openssl command: {e}"));
    assert!(
        out.status.success(),
        "openssl {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    /// A fresh CA named `name` and a server certificate it signed, in
    /// `dir/name/`.
    pub fn new(dir: &Path, name: &str) -> Pki {
        let dir = dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        openssl(
            &dir,
            &format!(
                "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                 -keyout ca.key -out ca.pem -days 3650 -subj /CN=tern-test-ca-{name}"
            ),
        );
        openssl(
            &dir,
            "req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
             -keyout key.pem -out server.csr -subj /CN=localhost",
        );
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName = DNS:localhost, IP:127.0.0.1\n",
        )
        .unwrap();
        openssl(
            &dir,
            "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
             -out cert.pem -days 825 -extfile server.ext",
        );
        Pki {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            dir,
        }
    }
}

/// A path as text, for a configuration file or a command line.
pub fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}
