//! The HTTP API's listener and connections: HTTP/1.1 (keep-alive) served
//! by hyper, one task per connection, the router ([`super::router`])
//! answering each request.
//!
//! The connection-level limits live here, as `axum::serve` sets none of
//! them: at most [`CONNECTIONS_MAX`] connections (the next waits in the
//! kernel's backlog), a request's headers within [`HEADER_READ_TIMEOUT`]
//! of the connection being ready for them (which also closes a
//! keep-alive connection idle that long), headers of at most
//! [`HEADER_MAX`] octets, and `[http-api] max_connections_per_ip` from
//! one client address (the excess closed at its accept, unread). The request limits are [`super::limits`]'.
//!
//! On the context's front-end shutdown the listener closes, idle
//! connections close at once, and a request in progress is answered
//! before its connection closes; [`serve`] returns when every connection
//! is done.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower_service::Service;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::config::Config;
use crate::context::Context;
use crate::metrics::labels::{Listener, RefusedReason};
use crate::store::Store;

/// Connections open at once, at most.
pub const CONNECTIONS_MAX: usize = 2048;

/// The time a client has to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request line and headers (414 or 431 above). A GET /send's
/// content is in its URL, so this is [`super::limits::BODY_MAX`] too.
pub const HEADER_MAX: usize = super::limits::BODY_MAX;

/// Bind a listener for the configured HTTP address.
pub async fn listen(config: &Config) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::new(config.http_api.bind, config.http_api.port)).await
}

/// Serve the API until the context's front-end shutdown, then finish the
/// requests in progress.
pub async fn serve<S: Store>(ctx: Arc<Context<S>>, listener: TcpListener) {
    let span = info_span!("http_api");
    async move {
        if let Ok(addr) = listener.local_addr() {
            info!(%addr, "HTTP API listening");
        }
        let router = super::router(ctx.clone());
        let connections = Arc::new(Semaphore::new(CONNECTIONS_MAX));
        let mut shutdown = ctx.shutdown.front_end();
        loop {
            let permit = tokio::select! {
                p = connections.clone().acquire_owned() => p,
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            let Ok(permit) = permit else { break };
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            match accepted {
                Ok((stream, peer)) => {
                    let limit = ctx.config.load().http_api.max_connections_per_ip;
                    let Some(open) = ctx.connections.http.open(peer.ip(), limit) else {
                        ctx.metrics
                            .connection_refused(Listener::Http, RefusedReason::PerIp);
                        debug!(%peer, limit, "connection refused: max_connections_per_ip");
                        continue;
                    };
                    let counted = (open, ctx.metrics.connection_open(Listener::Http));
                    let conn = connection(stream, peer, router.clone(), ctx.shutdown.front_end());
                    tokio::spawn(
                        async move {
                            conn.await;
                            drop(counted);
                            drop(permit);
                        }
                        .instrument(info_span!("http_connection", %peer)),
                    );
                }
                Err(e) => {
                    // Out of file descriptors, most likely: wait, not spin.
                    warn!(error = %e, "accepting an HTTP connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        drop(listener);
        // Every connection returns its permit when it is done.
        let _ = connections.acquire_many(CONNECTIONS_MAX as u32).await;
        info!("HTTP API stopped");
    }
    .instrument(span)
    .await
}

/// Serve one connection until the client closes it, a limit does, or the
/// shutdown (after the request in progress).
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: axum::Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let mut router = router.clone();
        async move { router.call(req).await }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(HEADER_MAX)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => break,
            _ = shutdown.wait_for(|stop| *stop), if !stopping => {
                conn.as_mut().graceful_shutdown();
                stopping = true;
            }
        }
    }
}
