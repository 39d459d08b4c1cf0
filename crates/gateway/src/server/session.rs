//! One ESME connection on the front end: its bind, and each request
//! answered with the status DESIGN.md's table gives.
//!
//! Submits are handled concurrently (up to the window) so a store round
//! trip does not serialise a bind; responses go out as each completes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use smpp::CommandStatus as S;
use smpp::pdu::{Bind, BindResp, Body, Limits, Pdu, QuerySmResp, SubmitSm, SubmitSmResp};
use smpp_session::{BindMode, Event, Session, SessionConfig, smsc};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tracing::{debug, info};

use super::submit_multi::submit_multi;
use crate::accounts::BindGrant;
use crate::config::User;
use crate::context::Context;
use crate::store::{CancelOutcome, Store};
use crate::submit::replace::replace;
use crate::submit::submit;

/// Submits of one bind in flight at once.
const IN_FLIGHT: usize = 64;

/// Serve one ESME over `stream`: plain TCP, or TLS after its handshake.
pub async fn run<St: Store, Io>(
    ctx: Arc<Context<St>>,
    stream: Io,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) where
    Io: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let config = ctx.config.load_full();
    let c = &config.smpp_server;
    let config = SessionConfig {
        session_init_timer: Some(c.session_init_timer).filter(|d| !d.is_zero()),
        enquire_link_timer: Some(c.enquire_link_timer).filter(|d| !d.is_zero()),
        inactivity_timer: Some(c.inactivity_timer).filter(|d| !d.is_zero()),
        response_timer: c.response_timer,
        pdu_read_timer: Some(c.pdu_read_timer).filter(|d| !d.is_zero()),
        limits: Limits::JASMIN,
        ..SessionConfig::default()
    };
    let (session, mut events) = smsc::accept(stream, peer.to_string(), config);
    let mut grant: Option<Arc<BindGrant>> = None;
    // Turns true when a reload removes the bound user.
    let mut removed: Option<watch::Receiver<bool>> = None;
    // This session's place among its user's receivers, once bound rx/trx.
    let mut receiver: Option<(String, u64)> = None;
    // Counted in tern_binds while the session lives.
    let mut bind_gauge = None;
    let mut inflight = FuturesUnordered::new();
    loop {
        tokio::select! {
            ev = events.recv(), if inflight.len() < IN_FLIGHT => {
                let Some(Event::Request(pdu)) = ev else { break };
                let seq = pdu.sequence_number;
                match BindMode::from_request(pdu.body) {
                    Ok((mode, b)) => {
                        if bind(&ctx, &session, &mut grant, peer, seq, mode, b).await {
                            removed = grant.as_ref().map(|g| g.removed());
                            bind_gauge = grant
                                .as_ref()
                                .map(|g| ctx.metrics.bound(&g.user.system_id, mode.as_str()));
                            if mode.can_receive() {
                                receiver = add_receiver(&ctx, &session, &grant, receiver);
                            }
                        }
                    }
                    Err(body) => {
                        // A request read after the session began to close
                        // is neither stored nor answered: the ESME never had
                        // an answer, so its retry cannot make a duplicate.
                        if !matches!(session.state(), smpp_session::BindState::Bound(_)) {
                            continue;
                        }
                        let Some(g) = grant.clone() else {
                            let _ = session.respond_error(&Pdu::new(seq, body), S::ESME_RINVBNDSTS).await;
                            continue;
                        };
                        let ctx = ctx.clone();
                        let session = session.clone();
                        inflight.push(async move {
                            // The user as configured now: a reload's new
                            // throughput, credit or source_addr applies to
                            // live binds too (a removed user's binds close;
                            // until then they keep what they bound with).
                            let user = ctx
                                .accounts
                                .user(&g.user.system_id)
                                .unwrap_or_else(|| g.user.clone());
                            let (status, resp) = request(&ctx, &user, body).await;
                            let _ = session.respond(seq, status, resp).await;
                        });
                    }
                }
            }
            Some(()) = inflight.next(), if !inflight.is_empty() => {}
            () = user_removed(&mut removed) => {
                // The user is gone from the configuration: finish what was
                // accepted, then unbind the ESME.
                info!("the user was removed from the configuration; unbinding");
                removed = None;
                while inflight.next().await.is_some() {}
                let _ = session.unbind().await;
            }
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    // Finish what was accepted, then unbind the ESME.
                    while inflight.next().await.is_some() {}
                    let _ = session.unbind().await;
                }
            }
        }
    }
    if let Some((user, id)) = &receiver {
        ctx.receivers.remove(user, *id);
    }
    while inflight.next().await.is_some() {}
    let reason = session.closed().await;
    debug!(%reason, "session ended");
    drop(bind_gauge);
}

/// Resolves once the bound user is removed (never before a bind).
async fn user_removed(removed: &mut Option<watch::Receiver<bool>>) {
    match removed {
        Some(r) => {
            let _ = r.wait_for(|gone| *gone).await;
        }
        None => std::future::pending().await,
    }
}

/// Join the user's receivers once bound as a receiver or transceiver.
fn add_receiver<St: Store>(
    ctx: &Arc<Context<St>>,
    session: &Session,
    grant: &Option<Arc<BindGrant>>,
    receiver: Option<(String, u64)>,
) -> Option<(String, u64)> {
    if receiver.is_some() {
        return receiver;
    }
    let user = &grant.as_ref()?.user.system_id;
    let id = ctx.receivers.add(user, session.clone());
    Some((user.clone(), id))
}

async fn bind<St: Store>(
    ctx: &Context<St>,
    session: &Session,
    grant: &mut Option<Arc<BindGrant>>,
    peer: SocketAddr,
    seq: u32,
    mode: BindMode,
    b: Bind<Bytes>,
) -> bool {
    let resp = BindResp {
        system_id: Bytes::copy_from_slice(ctx.config.load().smpp_server.id.as_bytes()),
        tlvs: Default::default(),
    };
    let body = mode.response(resp);
    let status = match ctx
        .accounts
        .bind(&b.system_id, &b.password, peer.ip(), mode, Instant::now())
        .await
    {
        Ok(g) => {
            tracing::Span::current().record("user", g.user.system_id.as_str());
            info!(mode = mode.as_str(), "bound");
            *grant = Some(Arc::new(g));
            S::ESME_ROK
        }
        Err(refusal) => {
            info!(system_id = %String::from_utf8_lossy(&b.system_id), reason = refusal.reason.as_str(), "bind refused");
            ctx.metrics.bind_failed(refusal.reason.as_str());
            refusal.status
        }
    };
    let _ = session.respond(seq, status, body).await;
    status == S::ESME_ROK
}

/// Handle one request of a bound ESME: the status and the response body.
async fn request<St: Store>(ctx: &Context<St>, user: &User, body: Body<Bytes>) -> (S, Body<Bytes>) {
    match body {
        Body::SubmitSm(s) => match submit(ctx, user, s, &[]).await {
            Ok(id) => (S::ESME_ROK, Body::SubmitSmResp(message_id(id))),
            Err(e) => (e.status(), Body::SubmitSmResp(SubmitSmResp::default())),
        },
        Body::DataSm(d) => match submit(ctx, user, SubmitSm::from(d), &[]).await {
            Ok(id) => (S::ESME_ROK, Body::DataSmResp(message_id(id))),
            Err(e) => (e.status(), Body::DataSmResp(SubmitSmResp::default())),
        },
        Body::QuerySm(q) => {
            let id = String::from_utf8_lossy(&q.message_id);
            match ctx.store.status(&id).await {
                Ok(Some(st)) if st.user == user.system_id => {
                    let final_date = st
                        .final_ms
                        .and_then(|ms| smpp::time::SmppTime::from_unix(ms / 1000))
                        .map(|t| Bytes::copy_from_slice(&t.to_bytes()))
                        .unwrap_or_default();
                    (
                        S::ESME_ROK,
                        Body::QuerySmResp(QuerySmResp {
                            message_id: q.message_id,
                            final_date,
                            message_state: st.state,
                            error_code: st.error_code,
                        }),
                    )
                }
                Ok(_) => (
                    S::ESME_RQUERYFAIL,
                    Body::QuerySmResp(QuerySmResp::default()),
                ),
                Err(_) => (S::ESME_RSYSERR, Body::QuerySmResp(QuerySmResp::default())),
            }
        }
        Body::CancelSm(c) => {
            let id = String::from_utf8_lossy(&c.message_id);
            let status = match ctx.store.cancel(&id, &user.system_id).await {
                Ok(CancelOutcome::Cancelled) => S::ESME_ROK,
                Ok(_) => S::ESME_RCANCELFAIL,
                Err(_) => S::ESME_RSYSERR,
            };
            (status, Body::CancelSmResp)
        }
        Body::SubmitMulti(m) => {
            let (status, resp) = submit_multi(ctx, user, m).await;
            (status, Body::SubmitMultiResp(resp))
        }
        Body::ReplaceSm(r) => {
            let status = match replace(ctx, user, &r).await {
                Ok(()) => S::ESME_ROK,
                Err(e) => {
                    info!(message_id = %String::from_utf8_lossy(&r.message_id), reason = %e, "replace_sm refused");
                    e.status()
                }
            };
            (status, Body::ReplaceSmResp)
        }
        other => {
            // Nothing else an ESME may ask of an SMSC.
            let id = other.command_id();
            let resp = id
                .response()
                .and_then(Body::error_response)
                .unwrap_or(Body::GenericNack);
            (S::ESME_RINVCMDID, resp)
        }
    }
}

fn message_id(id: String) -> SubmitSmResp<Bytes> {
    SubmitSmResp {
        message_id: Bytes::from(id),
        tlvs: Default::default(),
    }
}
