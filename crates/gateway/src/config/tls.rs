//! TLS in the configuration: the PEM files it names, read when the
//! configuration is read (at start and on each SIGHUP), so a missing,
//! unreadable or mismatched file is a configuration error naming the
//! file, the section and the key, and a reload picks up renewed
//! certificates.
//!
//! The key tables that name these files are their sections' (`server.rs`
//! for `[smpp-server] tls_cert/tls_key`, `connectors.rs` for
//! `[connector:*] tls_ca`); the rustls configurations are built by
//! [`smpp_session::tls`].

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use smpp_session::tls::{self, TlsAcceptor, TlsConnector, TlsError};

/// The CA bundle a connector trusts when it names no `tls_ca`: the
/// system's (Debian's and Ubuntu's ca-certificates package; elsewhere set
/// `tls_ca`).
pub const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The largest PEM file read: 4 MiB (Debian's CA bundle is about 200 KB).
pub const PEM_MAX: u64 = 4 << 20;

/// A file's path and its contents as read. Prints as its path only (a
/// key file's contents never reach a log).
#[derive(Clone, PartialEq, Eq)]
pub struct PemFile {
    pub path: String,
    pem: Arc<[u8]>,
}

impl PemFile {
    /// Read the file at `path` (at most [`PEM_MAX`] bytes: a
    /// certificate chain or CA bundle is far smaller, and `/dev/zero`
    /// never ends); the error says why it cannot be read.
    pub fn read(path: &str) -> Result<PemFile, String> {
        match super::read_bounded(Path::new(path), PEM_MAX) {
            Ok(pem) => Ok(PemFile {
                path: path.to_string(),
                pem: pem.into(),
            }),
            Err(e) => Err(format!("cannot read {path}: {e}")),
        }
    }

    pub fn pem(&self) -> &[u8] {
        &self.pem
    }
}

impl fmt::Debug for PemFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PemFile({})", self.path)
    }
}

/// The value grammar of a key naming a PEM file: the file, read.
pub(super) fn pem_file(v: &str) -> Result<PemFile, String> {
    let path = v.trim();
    if path.is_empty() {
        return Err("expected a file path".into());
    }
    PemFile::read(path)
}

/// `[smpp-server] tls_port/tls_cert/tls_key`: the TLS listener beside
/// the plain one.
#[derive(Clone)]
pub struct TlsListener {
    pub port: u16,
    pub cert: PemFile,
    pub key: PemFile,
    /// Built from `cert` and `key` when the configuration was read.
    pub acceptor: TlsAcceptor,
}

impl TlsListener {
    /// The listener, its certificate chain and key checked (they parse,
    /// and the key is the certificate's).
    pub fn new(port: u16, cert: PemFile, key: PemFile) -> Result<TlsListener, TlsError> {
        let acceptor = tls::acceptor(cert.pem(), key.pem(), &cert.path, &key.path)?;
        Ok(TlsListener {
            port,
            cert,
            key,
            acceptor,
        })
    }
}

impl fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsListener")
            .field("port", &self.port)
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// `[connector:*] tls = yes`: how a connector speaks TLS upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorTls {
    /// The CAs trusted (`tls_ca`, else [`SYSTEM_CA_BUNDLE`]); `None` when
    /// `tls_verify = no`.
    pub ca: Option<PemFile>,
    /// The name the upstream's certificate must carry (`tls_server_name`,
    /// else the connector's host).
    pub server_name: String,
}

impl ConnectorTls {
    /// Whether the upstream's certificate is checked (`tls_verify`).
    pub fn verify(&self) -> bool {
        self.ca.is_some()
    }

    /// The rustls client configuration this describes.
    pub fn connector(&self) -> Result<TlsConnector, TlsError> {
        match &self.ca {
            Some(ca) => tls::connector(ca.pem(), &ca.path),
            None => tls::unverified_connector(),
        }
    }
}
