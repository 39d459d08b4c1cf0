//! The application's side of a session: a cloneable handle to send
//! requests and responses, and the events the peer's requests arrive as.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use smpp::pdu::{Body, Pdu};
use smpp::{CommandId, CommandStatus};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};

use crate::error::{CloseReason, SessionError};
use crate::state::{BindState, Role};

/// What the peer sent that the application must see.
#[derive(Debug)]
pub enum Event {
    /// A request the application answers with [`Session::respond`]: a
    /// bind (SMSC role, before the session is bound), or submit_sm,
    /// deliver_sm, data_sm, query_sm, cancel_sm, replace_sm,
    /// submit_multi, alert_notification, outbind. enquire_link, unbind and
    /// malformed or out-of-state PDUs are answered by the session itself.
    /// Boxed: a session's event channel allocates room for 32 events at
    /// once, and an idle bind would otherwise keep 32 PDUs' worth (8 KB).
    Request(Box<Pdu<Bytes>>),
}

/// Work for the connection task.
pub(crate) enum Command {
    /// A request already encoded by the handle, so the connection task
    /// only copies bytes and the channel carries a small item.
    Request {
        frame: Bytes,
        sequence_number: u32,
        command_id: CommandId,
        reply: oneshot::Sender<Result<Pdu<Bytes>, SessionError>>,
        permit: OwnedSemaphorePermit,
    },
    /// A response already encoded; the id and status drive bind state.
    Respond {
        frame: Bytes,
        command_id: CommandId,
        status: CommandStatus,
    },
    Unbind {
        reply: oneshot::Sender<Result<(), SessionError>>,
    },
    Close,
}

/// State the connection task publishes to handles.
pub(crate) struct Shared {
    /// Sequence numbers for requests, from every handle and the task.
    pub(crate) next_seq: AtomicU32,
    pub(crate) state: watch::Sender<BindState>,
    pub(crate) close_reason: Mutex<Option<CloseReason>>,
    pub(crate) role: Role,
    pub(crate) peer: String,
    pub(crate) window: usize,
}

/// A handle to a session. Cheap to clone; the session closes when every
/// handle is dropped and the peer is told with an unbind first.
#[derive(Clone)]
pub struct Session {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) window: Arc<Semaphore>,
    pub(crate) shared: Arc<Shared>,
}

/// A response not yet arrived: await it.
pub struct PendingResponse {
    rx: oneshot::Receiver<Result<Pdu<Bytes>, SessionError>>,
    shared: Arc<Shared>,
}

impl PendingResponse {
    /// The response, or why there is none.
    pub async fn response(self) -> Result<Pdu<Bytes>, SessionError> {
        match self.rx.await {
            Ok(r) => r,
            Err(_) => Err(SessionError::Closed(closed_reason(&self.shared))),
        }
    }
}

impl std::future::Future for PendingResponse {
    type Output = Result<Pdu<Bytes>, SessionError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.rx).poll(cx).map(|r| match r {
            Ok(r) => r,
            Err(_) => Err(SessionError::Closed(closed_reason(&self.shared))),
        })
    }
}

fn closed_reason(shared: &Shared) -> CloseReason {
    shared
        .close_reason
        .lock()
        .ok()
        .and_then(|r| r.clone())
        .unwrap_or(CloseReason::Closed)
}

impl Shared {
    /// The next sequence number: 1 to 0x7FFFFFFF, then round again.
    pub(crate) fn take_seq(&self) -> u32 {
        self.next_seq.fetch_add(1, Ordering::Relaxed) % 0x7FFF_FFFF + 1
    }
}

thread_local! {
    /// Encoding buffer: frames are split off it, so encoding does not
    /// allocate per PDU.
    static ENCODE_BUF: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// Encode a PDU into a frame of its own.
fn encode_frame(pdu: &Pdu<Bytes>) -> Result<Bytes, SessionError> {
    ENCODE_BUF.with(|b| {
        let mut b = b.borrow_mut();
        if b.capacity() - b.len() < 1024 {
            b.reserve(64 * 1024);
        }
        pdu.encode(&mut b)?;
        Ok(b.split().freeze())
    })
}

impl Session {
    /// Send a request once the window has room, and return a handle to its
    /// response. Waiting here is the window's back-pressure.
    pub async fn send_request(&self, body: Body<Bytes>) -> Result<PendingResponse, SessionError> {
        let permit = match self.window.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => return Err(self.closed_error()),
        };
        let command_id = body.command_id();
        let sequence_number = self.shared.take_seq();
        let frame = encode_frame(&Pdu::new(sequence_number, body))?;
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(Command::Request {
                frame,
                sequence_number,
                command_id,
                reply,
                permit,
            })
            .await
            .map_err(|_| self.closed_error())?;
        Ok(PendingResponse {
            rx,
            shared: self.shared.clone(),
        })
    }

    /// Send a request and wait for its response (any command_status: an
    /// error status is the caller's to read).
    pub async fn request(&self, body: Body<Bytes>) -> Result<Pdu<Bytes>, SessionError> {
        self.send_request(body).await?.response().await
    }

    /// Answer the peer's request `sequence_number`.
    pub async fn respond(
        &self,
        sequence_number: u32,
        status: CommandStatus,
        body: Body<Bytes>,
    ) -> Result<(), SessionError> {
        let command_id = body.command_id();
        let frame = encode_frame(&Pdu {
            command_status: status,
            sequence_number,
            body,
        })?;
        self.commands
            .send(Command::Respond {
                frame,
                command_id,
                status,
            })
            .await
            .map_err(|_| self.closed_error())
    }

    /// Answer a request with an error status and the empty response body
    /// its command takes (generic_nack for a command without one).
    pub async fn respond_error(
        &self,
        request: &Pdu<Bytes>,
        status: CommandStatus,
    ) -> Result<(), SessionError> {
        let body = request
            .command_id()
            .response()
            .and_then(Body::error_response)
            .unwrap_or(Body::GenericNack);
        self.respond(request.sequence_number, status, body).await
    }

    /// Unbind gracefully: send unbind, wait for unbind_resp (or the
    /// response timer), then close.
    pub async fn unbind(&self) -> Result<(), SessionError> {
        let (reply, rx) = oneshot::channel();
        if self.commands.send(Command::Unbind { reply }).await.is_err() {
            return Ok(());
        }
        rx.await.unwrap_or(Ok(()))
    }

    /// Close now, without unbinding.
    pub fn close(&self) {
        let _ = self.commands.try_send(Command::Close);
    }

    pub fn state(&self) -> BindState {
        *self.shared.state.borrow()
    }

    pub fn role(&self) -> Role {
        self.shared.role
    }

    /// The peer's address, as given when the session started.
    pub fn peer(&self) -> &str {
        &self.shared.peer
    }

    /// Requests sent and not yet answered.
    pub fn outstanding(&self) -> usize {
        self.shared
            .window
            .saturating_sub(self.window.available_permits())
    }

    /// Wait until the session has closed, and say why.
    pub async fn closed(&self) -> CloseReason {
        let mut rx = self.shared.state.subscribe();
        let _ = rx.wait_for(|s| *s == BindState::Closed).await;
        closed_reason(&self.shared)
    }

    /// Whether the session is bound and may send `id` as a request.
    pub fn may_send(&self, id: CommandId) -> bool {
        crate::state::request_allowed(self.shared.role, self.state(), id)
    }

    fn closed_error(&self) -> SessionError {
        SessionError::Closed(closed_reason(&self.shared))
    }
}
