//! The task that owns one SMPP connection.
//!
//! Everything happens in one poll loop, without splitting the socket: take
//! the application's commands, read and handle every whole PDU buffered,
//! write everything queued with as few syscalls as the socket allows, and
//! run the timers. Responses the protocol requires (enquire_link_resp,
//! unbind_resp, generic_nack, errors for malformed or out-of-state PDUs)
//! are queued right where the request is read, so they go out in the same
//! write as everything else ready in that tick.
//!
//! Memory is bounded: reading stops while the output buffer is above its
//! high-water mark or the application has not taken the last event, and
//! the read buffer never holds more than one PDU beyond what was read.
//! An idle session costs little: the buffers and the window start empty
//! or small and grow with the traffic (a read that fills the room doubles
//! the next one's, up to 16 KiB), so ten thousand binds that only
//! enquire_link do not each hold room for a busy one's.
//!
//! Two parts have their own files: the requests in flight and their
//! response deadlines (`window.rs`), and the clocks and the one sleep
//! that wakes the task (`timers.rs`). Both are plain fields of the
//! task, so nothing is boxed or shared per PDU; what a timeout or an
//! answer does stays here.
//!
//! At about 650 lines this file is longer than most on purpose: what is
//! left is one state machine (read, handle, write, close) whose steps
//! share the task's fields and run in a fixed order each tick; split
//! further, a reader would follow one PDU across files.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use smpp::pdu::{Body, Pdu};
use smpp::{CommandId, CommandStatus, FrameDecoder, RawPdu};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::io::poll_read_buf;
use tokio_util::sync::PollSender;
use tracing::{Instrument, debug, trace, warn};

use crate::bind_mode::BindMode;
use crate::config::SessionConfig;
use crate::error::{CloseReason, SessionError};
use crate::session::{Command, Event, Session, Shared};
use crate::state::{BindState, Role, request_allowed};
use crate::timers::{Armed, Timers};
use crate::window::{Pending, PendingKind, Window};

/// How long a closing session may take to flush what it has queued.
const CLOSE_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);
/// Loop turns in one poll before yielding to other tasks.
const TURNS_PER_POLL: usize = 64;
/// The read buffer's first room: a bind, enquire_links, a few submits.
const READ_MIN: usize = 1024;
/// The most room a read asks for: a busy peer's reads reach it.
const READ_MAX: usize = 16 * 1024;

/// Start the task for a connection and return its handle and events.
pub(crate) fn spawn<S>(
    io: S,
    role: Role,
    config: SessionConfig,
    peer: String,
) -> (Session, mpsc::Receiver<Event>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let window = config.window.max(1);
    let (cmd_tx, cmd_rx) = mpsc::channel(window * 2 + 8);
    let (ev_tx, ev_rx) = mpsc::channel(config.event_queue.max(1));
    let (state_tx, _) = watch::channel(BindState::Open);
    let shared = Arc::new(Shared {
        next_seq: std::sync::atomic::AtomicU32::new(0),
        state: state_tx,
        close_reason: Mutex::new(None),
        role,
        peer,
        window,
    });
    let now = Instant::now();
    let conn = Connection {
        io,
        role,
        state: BindState::Open,
        decoder: FrameDecoder::new(config.max_command_length),
        inbuf: BytesMut::new(),
        read_size: READ_MIN,
        out: BytesMut::new(),
        commands: cmd_rx,
        commands_open: true,
        events: PollSender::new(ev_tx.clone()),
        events_tx: ev_tx,
        stalled: None,
        window: Window::new(config.response_timer),
        shared: shared.clone(),
        timers: Timers::new(&config, now),
        now,
        closing: None,
        needs_flush: false,
        unbind_waiters: Vec::new(),
        unbind_reason: CloseReason::Unbound,
        enquire_seq: None,
        bind_in_progress: false,
        config,
    };
    tokio::spawn(conn.run().in_current_span());
    let session = Session {
        commands: cmd_tx,
        window: Arc::new(Semaphore::new(window)),
        shared,
    };
    (session, ev_rx)
}

struct Connection<S> {
    io: S,
    role: Role,
    state: BindState,
    config: SessionConfig,
    decoder: FrameDecoder,
    inbuf: BytesMut,
    /// The room a read asks for: doubled while reads fill it, up to
    /// [`READ_MAX`], never shrunk.
    read_size: usize,
    out: BytesMut,
    commands: mpsc::Receiver<Command>,
    commands_open: bool,
    events: PollSender<Event>,
    events_tx: mpsc::Sender<Event>,
    /// An event the application has not had room for: reading waits.
    stalled: Option<Event>,
    /// Our requests not yet answered.
    window: Window,
    shared: Arc<Shared>,
    timers: Timers,
    now: Instant,
    closing: Option<CloseReason>,
    needs_flush: bool,
    unbind_waiters: Vec<oneshot::Sender<Result<(), SessionError>>>,
    unbind_reason: CloseReason,
    enquire_seq: Option<u32>,
    bind_in_progress: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    async fn run(mut self) {
        let reason = poll_fn(|cx| self.poll_run(cx)).await;
        debug!(%reason, "session closed");
        self.finish(reason);
    }

    fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<CloseReason> {
        for _ in 0..TURNS_PER_POLL {
            self.now = Instant::now();
            let mut progress = false;

            if let Some(ev) = self.stalled.take() {
                match self.events.poll_reserve(cx) {
                    Poll::Ready(Ok(())) => {
                        let _ = self.events.send_item(ev);
                        // Time spent waiting on the application is not the
                        // peer's silence.
                        self.timers.last_rx = self.now;
                        if self.timers.partial_since.is_some() {
                            self.timers.partial_since = Some(self.now);
                        }
                        progress = true;
                    }
                    // The application dropped its receiver: nothing to tell.
                    Poll::Ready(Err(_)) => progress = true,
                    Poll::Pending => self.stalled = Some(ev),
                }
            }

            if self.closing.is_none() && self.commands_open {
                while self.out.len() < self.config.write_high_water && self.closing.is_none() {
                    match self.commands.poll_recv(cx) {
                        Poll::Ready(Some(cmd)) => {
                            self.on_command(cmd);
                            progress = true;
                        }
                        Poll::Ready(None) => {
                            self.commands_open = false;
                            self.on_all_handles_dropped();
                            progress = true;
                            break;
                        }
                        Poll::Pending => break,
                    }
                }
            }

            if self.can_read() {
                if self.process_frames() {
                    progress = true;
                }
                if self.can_read() {
                    if self.inbuf.capacity() - self.inbuf.len() < self.read_size / 4 {
                        self.inbuf.reserve(self.read_size);
                    }
                    let room = self.inbuf.capacity() - self.inbuf.len();
                    match poll_read_buf(Pin::new(&mut self.io), cx, &mut self.inbuf) {
                        Poll::Ready(Ok(0)) => {
                            self.close(CloseReason::PeerClosed);
                            self.out.clear();
                            progress = true;
                        }
                        Poll::Ready(Ok(n)) => {
                            // A read that filled the room: the peer has
                            // more, so read more at once from now on.
                            if n == room && self.read_size < READ_MAX {
                                self.read_size *= 2;
                            }
                            self.timers.last_rx = self.now;
                            progress = true;
                        }
                        Poll::Ready(Err(e)) => {
                            self.close(CloseReason::Io(e.to_string()));
                            self.out.clear();
                            progress = true;
                        }
                        Poll::Pending => {}
                    }
                }
            }

            if self.poll_write(cx) {
                progress = true;
            }

            if let Some(reason) = &self.closing {
                let flushed = self.out.is_empty() && !self.needs_flush;
                let late = self.timers.close_late(self.now);
                if flushed || late {
                    let _ = Pin::new(&mut self.io).poll_shutdown(cx);
                    return Poll::Ready(reason.clone());
                }
            }

            if self.poll_timers(cx) {
                progress = true;
            }
            if !progress {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn can_read(&self) -> bool {
        self.closing.is_none()
            && self.stalled.is_none()
            && self.out.len() < self.config.write_high_water
    }

    /// Write what is queued; true if anything moved.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while !self.out.is_empty() {
            match Pin::new(&mut self.io).poll_write(cx, &self.out) {
                Poll::Ready(Ok(0)) => {
                    self.close(CloseReason::Io("connection wrote zero bytes".into()));
                    self.out.clear();
                    return true;
                }
                Poll::Ready(Ok(n)) => {
                    self.out.advance(n);
                    self.needs_flush = true;
                    progress = true;
                }
                Poll::Ready(Err(e)) => {
                    self.close(CloseReason::Io(e.to_string()));
                    self.out.clear();
                    return true;
                }
                Poll::Pending => return progress,
            }
        }
        if self.needs_flush {
            match Pin::new(&mut self.io).poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    self.needs_flush = false;
                    progress = true;
                }
                Poll::Ready(Err(e)) => {
                    self.close(CloseReason::Io(e.to_string()));
                    self.needs_flush = false;
                    progress = true;
                }
                Poll::Pending => {}
            }
        }
        progress
    }

    // ---- reading ----

    /// Handle every whole PDU in the read buffer that may be handled now.
    fn process_frames(&mut self) -> bool {
        let mut any = false;
        while self.can_read() {
            match self.decoder.decode(&mut self.inbuf) {
                Ok(Some(raw)) => {
                    any = true;
                    self.on_frame(raw);
                }
                Ok(None) => break,
                Err(e) => {
                    warn!(
                        command_length = e.command_length,
                        "invalid command_length; closing"
                    );
                    self.queue(&e.response());
                    self.close(CloseReason::InvalidCommandLength(e.command_length));
                    self.inbuf.clear();
                    return true;
                }
            }
        }
        if self.inbuf.is_empty() {
            self.timers.partial_since = None;
        } else if any || self.timers.partial_since.is_none() {
            self.timers.partial_since = Some(self.now);
        }
        any
    }

    fn on_frame(&mut self, raw: RawPdu) {
        let id = raw.header.command_id;
        if id != CommandId::ENQUIRE_LINK && id != CommandId::ENQUIRE_LINK_RESP {
            self.timers.last_activity = self.now;
        }
        trace!(command = %id, sequence = raw.header.sequence_number, "received");
        match raw.decode(&self.config.limits) {
            Ok(pdu) if id.is_response() => self.on_response(pdu),
            Ok(pdu) => self.on_request(pdu),
            Err(e) if id.is_response() => {
                warn!(command = %id, sequence = e.sequence_number, status = %e.status, "malformed response");
                if let Some(p) = self.window.answered(e.sequence_number) {
                    self.complete(p, Err(SessionError::UnexpectedResponse(id)));
                }
            }
            Err(e) => {
                debug!(command = %id, sequence = e.sequence_number, status = %e.status, "malformed request");
                if let Some(resp) = e.response::<Bytes>() {
                    self.queue(&resp);
                }
            }
        }
    }

    fn peer_role(&self) -> Role {
        match self.role {
            Role::Esme => Role::Smsc,
            Role::Smsc => Role::Esme,
        }
    }

    fn on_request(&mut self, pdu: Pdu<Bytes>) {
        let id = pdu.command_id();
        let seq = pdu.sequence_number;
        match id {
            CommandId::ENQUIRE_LINK => {
                self.queue(&Pdu::new(seq, Body::EnquireLinkResp));
            }
            CommandId::UNBIND => {
                if matches!(self.state, BindState::Bound(_) | BindState::Unbinding) {
                    self.queue(&Pdu::new(seq, Body::UnbindResp));
                    self.close(CloseReason::PeerUnbound);
                } else {
                    self.reject(seq, id, CommandStatus::ESME_RINVBNDSTS);
                }
            }
            CommandId::BIND_TRANSMITTER
            | CommandId::BIND_RECEIVER
            | CommandId::BIND_TRANSCEIVER
                if self.role == Role::Smsc =>
            {
                if self.state == BindState::Open && !self.bind_in_progress {
                    self.bind_in_progress = true;
                    self.deliver(Event::Request(Box::new(pdu)));
                } else {
                    self.reject(seq, id, CommandStatus::ESME_RALYBND);
                }
            }
            _ if request_allowed(self.peer_role(), self.state, id) => {
                self.deliver(Event::Request(Box::new(pdu)));
            }
            _ => {
                debug!(command = %id, state = ?self.state, "request not allowed in this bind state");
                self.reject(seq, id, CommandStatus::ESME_RINVBNDSTS);
            }
        }
    }

    /// Answer a request with an error: its own response, or generic_nack
    /// for a command that has none.
    fn reject(&mut self, seq: u32, id: CommandId, status: CommandStatus) {
        if id == CommandId::ALERT_NOTIFICATION || id == CommandId::OUTBIND {
            return;
        }
        let body = id
            .response()
            .and_then(Body::error_response)
            .unwrap_or(Body::GenericNack);
        self.queue(&Pdu {
            command_status: status,
            sequence_number: seq,
            body,
        });
    }

    fn deliver(&mut self, ev: Event) {
        match self.events_tx.try_send(ev) {
            Ok(()) => {}
            // Hold it and stop reading until the application makes room.
            Err(TrySendError::Full(ev)) => self.stalled = Some(ev),
            // Nobody listens: the peer must not wait for an answer.
            Err(TrySendError::Closed(Event::Request(pdu))) => {
                self.reject(
                    pdu.sequence_number,
                    pdu.command_id(),
                    CommandStatus::ESME_RSYSERR,
                );
            }
        }
    }

    fn on_response(&mut self, pdu: Pdu<Bytes>) {
        let Some(p) = self.window.answered(pdu.sequence_number) else {
            warn!(command = %pdu.command_id(), sequence = pdu.sequence_number, "response nobody waits for; dropped");
            return;
        };
        let id = pdu.command_id();
        let expected = p.command_id.response();
        if id != CommandId::GENERIC_NACK && Some(id) != expected {
            warn!(command = %id, request = %p.command_id, "response does not match its request");
            self.complete(p, Err(SessionError::UnexpectedResponse(id)));
            return;
        }
        if let Some(mode) = BindMode::of(p.command_id) {
            if pdu.command_status.is_ok()
                && id != CommandId::GENERIC_NACK
                && self.state == BindState::Open
            {
                self.set_state(BindState::Bound(mode));
            }
        }
        self.complete(p, Ok(pdu));
    }

    fn complete(&mut self, p: Pending, result: Result<Pdu<Bytes>, SessionError>) {
        match p.kind {
            PendingKind::App { reply, .. } => {
                let _ = reply.send(result);
            }
            PendingKind::EnquireLink => self.enquire_seq = None,
            PendingKind::Unbind => {
                let reason = self.unbind_reason.clone();
                self.close(reason);
            }
        }
    }

    // ---- writing ----

    fn queue(&mut self, pdu: &Pdu<Bytes>) {
        if let Err(e) = pdu.encode(&mut self.out) {
            warn!(command = %pdu.command_id(), error = %e, "cannot encode; not sent");
        } else {
            trace!(command = %pdu.command_id(), sequence = pdu.sequence_number, "queued");
        }
    }

    fn take_seq(&mut self) -> u32 {
        self.shared.take_seq()
    }

    /// Send one of the session's own requests (enquire_link, unbind) and
    /// track its response.
    fn send_request(
        &mut self,
        body: Body<Bytes>,
        kind: PendingKind,
    ) -> Result<u32, (PendingKind, SessionError)> {
        let command_id = body.command_id();
        let seq = self.take_seq();
        let pdu = Pdu::new(seq, body);
        if let Err(e) = pdu.encode(&mut self.out) {
            return Err((kind, SessionError::Encode(e)));
        }
        self.track(seq, command_id, kind);
        Ok(seq)
    }

    fn track(&mut self, seq: u32, command_id: CommandId, kind: PendingKind) {
        if command_id != CommandId::ENQUIRE_LINK {
            self.timers.last_activity = self.now;
        }
        self.window.track(seq, command_id, kind, self.now);
    }

    fn on_command(&mut self, cmd: Command) {
        match cmd {
            Command::Request {
                frame,
                sequence_number,
                command_id,
                reply,
                permit,
            } => {
                if !request_allowed(self.role, self.state, command_id) {
                    let _ = reply.send(Err(SessionError::NotAllowed(command_id, self.state)));
                    return;
                }
                self.out.extend_from_slice(&frame);
                trace!(command = %command_id, sequence = sequence_number, "queued");
                let kind = PendingKind::App {
                    reply,
                    _permit: permit,
                };
                self.track(sequence_number, command_id, kind);
            }
            Command::Respond {
                frame,
                command_id,
                status,
            } => {
                if let Some(mode) = BindMode::of(command_id) {
                    if command_id.is_response()
                        && self.role == Role::Smsc
                        && self.state == BindState::Open
                    {
                        self.bind_in_progress = false;
                        if status.is_ok() {
                            self.set_state(BindState::Bound(mode));
                        }
                    }
                }
                if command_id != CommandId::ENQUIRE_LINK_RESP {
                    self.timers.last_activity = self.now;
                }
                self.out.extend_from_slice(&frame);
            }
            Command::Unbind { reply } => {
                self.unbind_waiters.push(reply);
                self.start_unbind(CloseReason::Unbound);
            }
            Command::Close => self.close(CloseReason::Closed),
        }
    }

    fn on_all_handles_dropped(&mut self) {
        self.start_unbind(CloseReason::Closed);
    }

    fn start_unbind(&mut self, reason: CloseReason) {
        match self.state {
            BindState::Bound(_) => {
                self.unbind_reason = reason;
                self.set_state(BindState::Unbinding);
                if let Err((_, e)) = self.send_request(Body::Unbind, PendingKind::Unbind) {
                    warn!(error = %e, "cannot send unbind");
                    let reason = self.unbind_reason.clone();
                    self.close(reason);
                }
            }
            BindState::Unbinding => {}
            BindState::Open | BindState::Closed => self.close(reason),
        }
    }

    fn set_state(&mut self, state: BindState) {
        if self.state != state {
            debug!(from = ?self.state, to = ?state, "bind state");
            self.state = state;
            self.shared.state.send_replace(state);
        }
    }

    fn close(&mut self, reason: CloseReason) {
        if self.closing.is_none() {
            debug!(%reason, "closing");
            self.closing = Some(reason);
            self.timers.close_deadline = Some(self.now + CLOSE_FLUSH);
        }
    }

    fn finish(&mut self, reason: CloseReason) {
        if let Ok(mut r) = self.shared.close_reason.lock() {
            r.get_or_insert(reason.clone());
        }
        for p in self.window.drain() {
            if let PendingKind::App { reply, .. } = p.kind {
                let _ = reply.send(Err(SessionError::Closed(reason.clone())));
            }
        }
        for w in self.unbind_waiters.drain(..) {
            let _ = w.send(Ok(()));
        }
        self.commands.close();
        while let Ok(cmd) = self.commands.try_recv() {
            if let Command::Request { reply, .. } = cmd {
                let _ = reply.send(Err(SessionError::Closed(reason.clone())));
            }
        }
        self.state = BindState::Closed;
        self.shared.state.send_replace(BindState::Closed);
    }

    // ---- timers ----

    /// Which timers this state arms (see [`Armed`]).
    fn armed(&self) -> Armed {
        let bound = matches!(self.state, BindState::Bound(_));
        let reading = self.can_read();
        Armed {
            closing: self.closing.is_some(),
            awaiting_bind: self.role == Role::Smsc && self.state == BindState::Open,
            bound,
            enquire_link: bound && self.enquire_seq.is_none() && reading,
            reading,
        }
    }

    fn poll_timers(&mut self, cx: &mut Context<'_>) -> bool {
        let next = self
            .timers
            .next_deadline(self.armed(), self.window.next_deadline());
        if self.timers.poll(cx, next) {
            self.now = Instant::now();
            self.fire_due();
            true
        } else {
            false
        }
    }

    /// Act on every timer due at `self.now`, in this order: response
    /// timeouts, session_init, the partial-PDU timer, inactivity,
    /// enquire_link. Each check sees what the ones before it did.
    fn fire_due(&mut self) {
        let now = self.now;
        while let Some((seq, p)) = self.window.pop_due(now) {
            match p.kind {
                PendingKind::App { reply, .. } => {
                    debug!(command = %p.command_id, sequence = seq, "response timeout");
                    let _ = reply.send(Err(SessionError::Timeout));
                }
                PendingKind::EnquireLink => self.close(CloseReason::EnquireLinkTimeout),
                PendingKind::Unbind => {
                    let reason = self.unbind_reason.clone();
                    self.close(reason);
                }
            }
        }
        let bound = matches!(self.state, BindState::Bound(_));
        if self.role == Role::Smsc
            && self.state == BindState::Open
            && self.timers.session_init_due(now)
        {
            self.close(CloseReason::SessionInitTimeout);
        }
        if self.can_read() && self.timers.pdu_read_due(now) {
            self.close(CloseReason::PduReadTimeout);
        }
        if bound && self.timers.inactivity_due(now) {
            self.start_unbind(CloseReason::Inactivity);
        }
        if matches!(self.state, BindState::Bound(_))
            && self.enquire_seq.is_none()
            && self.can_read()
            && self.timers.enquire_link_due(now)
        {
            match self.send_request(Body::EnquireLink, PendingKind::EnquireLink) {
                Ok(seq) => self.enquire_seq = Some(seq),
                Err((_, e)) => warn!(error = %e, "cannot send enquire_link"),
            }
        }
    }
}
