//! Async SMPP 3.4 sessions on tokio, for either role.
//!
//! One task owns each connection ([`connection`]): it reads and frames
//! PDUs, answers what the protocol answers by itself (enquire_link, unbind,
//! malformed PDUs, PDUs not allowed in the bind state), matches responses to
//! requests by sequence number (`window.rs`), runs the timers
//! (`timers.rs`), and writes every PDU that is ready in one go. The
//! application talks to it through a cloneable [`Session`] handle and
//! receives the peer's requests as [`Event`]s.
//!
//! - [`esme::bind`]: connect side, bind and get a bound session.
//! - [`smsc::accept`]: server side, a session waiting for its bind.
//! - [`tls`]: rustls configurations for both roles.
//! - [`BindMode`]: the three bind modes and their bind PDUs.
//!
//! Back-pressure runs end to end: a full event channel or a peer that does
//! not read makes the task stop reading; a full window makes
//! [`Session::send_request`] wait.

mod bind_mode;
mod config;
mod connection;
mod error;
pub mod esme;
mod session;
pub mod smsc;
mod state;
mod timers;
pub mod tls;
mod window;

pub use bind_mode::BindMode;
pub use config::SessionConfig;
pub use error::{CloseReason, SessionError};
pub use session::{Event, PendingResponse, Session};
pub use state::{BindState, Role};
