//! TLS for both roles, with rustls: configurations from PEM files.
//!
//! The SMSC role gets an acceptor from a certificate chain and its key;
//! the ESME role a connector trusting the CAs of a PEM file, or — only
//! when an operator turns verification off — one that accepts any
//! certificate (the handshake's signatures are still checked, so the
//! session is encrypted, but the peer is not authenticated).

use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::UnixTime;
pub use rustls_pki_types::ServerName;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub use tokio_rustls::{TlsAcceptor, TlsConnector};

/// How long either side waits for a TLS handshake to complete.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {message}")]
    Pem { path: String, message: String },
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
    #[error("invalid server name {0:?}")]
    ServerName(String),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Certificates from a PEM file or PEM text.
pub fn certificates(pem: &[u8], path: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem).collect();
    match certs {
        Ok(c) if !c.is_empty() => Ok(c),
        Ok(_) => Err(TlsError::Pem {
            path: path.into(),
            message: "no certificate found".into(),
        }),
        Err(e) => Err(TlsError::Pem {
            path: path.into(),
            message: e.to_string(),
        }),
    }
}

/// An acceptor for the SMSC role from a certificate chain and key (PEM).
/// A key that does not belong to the chain's first certificate is an
/// error.
pub fn acceptor(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert_path: &str,
    key_path: &str,
) -> Result<TlsAcceptor, TlsError> {
    let certs = certificates(cert_pem, cert_path)?;
    // The key's own error text is not shown: it could quote key bytes.
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Pem {
        path: key_path.into(),
        message: match e {
            rustls_pki_types::pem::Error::NoItemsFound => "no private key found".into(),
            _ => "not a PEM private key".into(),
        },
    })?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A connector for the ESME role trusting the CA certificates of a PEM
/// file or bundle. Entries rustls cannot use as trust anchors are
/// skipped (a system bundle may hold a few); none usable is an error.
pub fn connector(ca_pem: &[u8], ca_path: &str) -> Result<TlsConnector, TlsError> {
    let mut roots = RootCertStore::empty();
    let (added, _skipped) = roots.add_parsable_certificates(certificates(ca_pem, ca_path)?);
    if added == 0 {
        return Err(TlsError::Pem {
            path: ca_path.into(),
            message: "no usable CA certificate".into(),
        });
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// A connector for the ESME role that accepts any server certificate:
/// encrypted, not authenticated. For an upstream whose certificate
/// cannot be checked, at the operator's explicit choice.
pub fn unverified_connector() -> Result<TlsConnector, TlsError> {
    let provider = provider();
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Accepts every certificate; still checks the handshake's signatures.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The name to check the server's certificate against: a DNS name or an
/// IP address.
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(host.to_string()).map_err(|_| TlsError::ServerName(host.into()))
}
