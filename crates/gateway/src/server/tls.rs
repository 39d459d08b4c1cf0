//! The TLS listener's side of a connection: the handshake before the
//! session, then the same session as on the plain port ([`super::session`]).
//!
//! The certificate is the configuration's: a SIGHUP that reads renewed
//! `tls_cert`/`tls_key` files serves them to the next connection (live
//! sessions keep theirs). A handshake that fails (a plain-text client, a
//! client that does not trust the certificate) or does not finish within
//! [`HANDSHAKE_TIMEOUT`] ends that connection only, logged at info with
//! rustls' reason (which holds no key material).

use std::net::SocketAddr;
use std::sync::Arc;

use smpp_session::tls::{HANDSHAKE_TIMEOUT, TlsAcceptor};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tracing::info;

use super::session;
use crate::context::Context;
use crate::store::Store;

/// Make the TLS session, then serve the ESME over it. `fallback` is the
/// certificate the listener started with, for a configuration reloaded
/// without `tls_port` (the listener runs until the next start).
pub(super) async fn run<St: Store>(
    ctx: Arc<Context<St>>,
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
    fallback: TlsAcceptor,
) {
    let acceptor = ctx
        .config
        .load()
        .smpp_server
        .tls
        .as_ref()
        .map_or(fallback, |t| t.acceptor.clone());
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            info!(error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            info!(timeout = ?HANDSHAKE_TIMEOUT, "no TLS handshake in time");
            return;
        }
    };
    session::run(ctx, stream, peer, shutdown).await;
}
