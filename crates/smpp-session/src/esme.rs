//! The ESME role: connect, bind, and get a bound session.

use bytes::Bytes;
use rustls_pki_types::ServerName;
use smpp::pdu::{Bind, BindResp};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use crate::bind_mode::BindMode;
use crate::config::SessionConfig;
use crate::connection;
use crate::error::SessionError;
use crate::session::{Event, Session};
use crate::state::Role;
use crate::tls;

/// Bind over an established stream (TCP or TLS). On success the session is
/// bound in `mode`; on refusal the session is closed and the SMSC's status
/// returned.
pub async fn bind<S>(
    io: S,
    peer: String,
    mode: BindMode,
    bind: Bind<Bytes>,
    config: SessionConfig,
) -> Result<(Session, mpsc::Receiver<Event>, BindResp<Bytes>), SessionError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (session, events) = connection::spawn(io, Role::Esme, config, peer);
    let resp = session.request(mode.request(bind)).await?;
    if !resp.command_status.is_ok() {
        session.close();
        return Err(SessionError::BindRefused(resp.command_status));
    }
    match BindMode::from_response(resp.body) {
        Ok((_, r)) => Ok((session, events, r)),
        Err(other) => {
            session.close();
            Err(SessionError::UnexpectedResponse(other.command_id()))
        }
    }
}

/// Connect over TCP (no Nagle: the session batches its own writes) and bind.
pub async fn connect(
    addr: &str,
    mode: BindMode,
    bind: Bind<Bytes>,
    config: SessionConfig,
) -> Result<(Session, mpsc::Receiver<Event>, BindResp<Bytes>), SessionError> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| SessionError::Io(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    self::bind(stream, addr.to_string(), mode, bind, config).await
}

/// Connect over TCP, make a TLS session with `tls` checking the server's
/// certificate against `server_name` (within [`tls::HANDSHAKE_TIMEOUT`]),
/// and bind.
pub async fn connect_tls(
    addr: &str,
    tls: &tls::TlsConnector,
    server_name: ServerName<'static>,
    mode: BindMode,
    bind: Bind<Bytes>,
    config: SessionConfig,
) -> Result<(Session, mpsc::Receiver<Event>, BindResp<Bytes>), SessionError> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| SessionError::Io(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    let stream = tokio::time::timeout(tls::HANDSHAKE_TIMEOUT, tls.connect(server_name, stream))
        .await
        .map_err(|_| {
            SessionError::Tls(format!(
                "no TLS handshake within {:?}",
                tls::HANDSHAKE_TIMEOUT
            ))
        })?
        .map_err(|e| SessionError::Tls(e.to_string()))?;
    self::bind(stream, addr.to_string(), mode, bind, config).await
}
