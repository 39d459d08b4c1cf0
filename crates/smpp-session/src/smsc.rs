//! The SMSC role: a session on an accepted connection, waiting for a bind.
//!
//! The bind arrives as the first [`Event::Request`]; the application
//! checks the credentials and answers with [`Session::respond`]. A bind
//! response with ESME_ROK makes the session bound in the bind's mode. The
//! session init timer closes a connection that does not bind in time.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use crate::config::SessionConfig;
use crate::connection;
use crate::session::{Event, Session};
use crate::state::Role;

/// Start a session on an accepted stream (TCP or TLS).
pub fn accept<S>(io: S, peer: String, config: SessionConfig) -> (Session, mpsc::Receiver<Event>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    connection::spawn(io, Role::Smsc, config, peer)
}
