//! One ESME connection: answer its bind and its requests as an SMSC would,
//! with the errors, throttling and drops the options ask for.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use smpp::pdu::{
    Address, Bind, BindResp, Body, Pdu, QuerySmResp, SubmitMultiResp, SubmitSm, SubmitSmResp,
};
use smpp::{CommandStatus as S, MessageState};
use smpp_session::tls::{self, TlsAcceptor};
use smpp_session::{BindMode, Event, Session, SessionConfig, smsc};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tracing::{debug, info};

use crate::counters::{dec, inc};
use crate::sim::{Outgoing, Record, Sim, receipt_body, unix_now};

/// A small fast generator for the simulator's dice (not for secrets).
pub struct Dice(u64);

impl Dice {
    pub fn new(seed: u64) -> Self {
        Dice(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Uniform in [0, 1).
    pub fn next(&mut self) -> f64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Conn {
    sim: Arc<Sim>,
    session: Session,
    bound: Option<(Arc<str>, BindMode, Option<u64>)>,
    dice: Dice,
}

/// Serve one connection: over TLS when the sim has a certificate.
pub async fn serve(
    sim: Arc<Sim>,
    stream: TcpStream,
    peer: String,
    n: u64,
    tls: Option<TlsAcceptor>,
) {
    let _ = stream.set_nodelay(true);
    let Some(acceptor) = tls else {
        return serve_on(sim, stream, peer, n).await;
    };
    match tokio::time::timeout(tls::HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => serve_on(sim, stream, peer, n).await,
        Ok(Err(e)) => info!(error = %e, "TLS handshake failed"),
        Err(_) => info!("no TLS handshake in time"),
    }
}

async fn serve_on<Io>(sim: Arc<Sim>, stream: Io, peer: String, n: u64)
where
    Io: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let config = SessionConfig {
        limits: smpp::pdu::Limits::JASMIN,
        ..SessionConfig::default()
    };
    let (session, mut events) = smsc::accept(stream, peer.clone(), config);
    inc(&sim.counters.connections);
    let mut conn = Conn {
        sim: sim.clone(),
        session: session.clone(),
        bound: None,
        dice: Dice::new(n),
    };
    let mut pdus = 0u64;
    while let Some(Event::Request(pdu)) = events.recv().await {
        pdus += 1;
        if sim.args.drop_after > 0 && pdus > sim.args.drop_after {
            info!(%peer, pdus, "dropping the connection (--drop-after)");
            inc(&sim.counters.drops);
            session.close();
            break;
        }
        if conn.handle(*pdu).await.is_err() {
            break;
        }
    }
    if let Some((sid, _, key)) = conn.bound.take() {
        dec(&sim.counters.binds_active);
        if let Some(key) = key {
            sim.unregister(&sid, key);
        }
    }
    let reason = session.closed().await;
    debug!(%peer, %reason, "connection closed");
}

fn id_resp(id: String) -> SubmitSmResp<Bytes> {
    SubmitSmResp {
        message_id: Bytes::from(id),
        tlvs: Default::default(),
    }
}

impl Conn {
    async fn handle(&mut self, pdu: Pdu<Bytes>) -> Result<(), smpp_session::SessionError> {
        let seq = pdu.sequence_number;
        let body = match BindMode::from_request(pdu.body) {
            Ok((mode, b)) => return self.bind(seq, mode, b).await,
            Err(body) => body,
        };
        match body {
            Body::SubmitSm(s) => {
                inc(&self.sim.counters.submit_sm);
                let (status, id) = self.accept_submit(&s, 1);
                let body = Body::SubmitSmResp(id_resp(id.unwrap_or_default()));
                self.session.respond(seq, status, body).await
            }
            Body::DataSm(d) => {
                inc(&self.sim.counters.data_sm);
                let s = SubmitSm {
                    source: d.source,
                    destination: d.destination,
                    registered_delivery: d.registered_delivery,
                    short_message: Bytes::copy_from_slice(
                        d.tlvs.message_payload().unwrap_or_default(),
                    ),
                    ..Default::default()
                };
                let (status, id) = self.accept_submit(&s, 1);
                let body = Body::DataSmResp(id_resp(id.unwrap_or_default()));
                self.session.respond(seq, status, body).await
            }
            Body::SubmitMulti(m) => {
                inc(&self.sim.counters.submit_multi);
                let mut status = S::ESME_ROK;
                let mut first = None;
                for d in &m.destinations {
                    if let smpp::pdu::Destination::Sme(addr) = d {
                        let s = SubmitSm {
                            source: m.source.clone(),
                            destination: addr.clone(),
                            registered_delivery: m.registered_delivery,
                            short_message: m.short_message.clone(),
                            ..Default::default()
                        };
                        let (st, id) = self.accept_submit(&s, 1);
                        status = st;
                        first = first.or(id);
                        if !st.is_ok() {
                            break;
                        }
                    }
                }
                let body = Body::SubmitMultiResp(SubmitMultiResp {
                    message_id: Bytes::from(first.unwrap_or_default()),
                    ..Default::default()
                });
                self.session.respond(seq, status, body).await
            }
            Body::QuerySm(q) => {
                inc(&self.sim.counters.query_sm);
                let found = self.own_record(&q.message_id);
                let (status, body) = match found {
                    Some(r) => {
                        let now = Instant::now();
                        let (state, final_date) = if now >= r.final_at {
                            let date = smpp::time::SmppTime::from_unix(r.final_unix)
                                .map(|t| Bytes::copy_from_slice(&t.to_bytes()))
                                .unwrap_or_default();
                            (r.state, date)
                        } else {
                            (MessageState::Enroute, Bytes::new())
                        };
                        (
                            S::ESME_ROK,
                            QuerySmResp {
                                message_id: q.message_id.clone(),
                                final_date,
                                message_state: state,
                                error_code: if state == MessageState::Delivered {
                                    0
                                } else {
                                    r.err.min(255) as u8
                                },
                            },
                        )
                    }
                    None => (S::ESME_RQUERYFAIL, QuerySmResp::default()),
                };
                self.session
                    .respond(seq, status, Body::QuerySmResp(body))
                    .await
            }
            Body::CancelSm(c) => {
                inc(&self.sim.counters.cancel_sm);
                let ok = match (&self.bound, self.sim.parse_id(&c.message_id)) {
                    (Some((sid, _, _)), Some(n)) => self.sim.cancel(n, sid, Instant::now()),
                    _ => false,
                };
                let status = if ok { S::ESME_ROK } else { S::ESME_RCANCELFAIL };
                self.session.respond(seq, status, Body::CancelSmResp).await
            }
            Body::ReplaceSm(r) => {
                inc(&self.sim.counters.replace_sm);
                let ok = self
                    .own_record(&r.message_id)
                    .is_some_and(|rec| !rec.cancelled && Instant::now() < rec.final_at);
                let status = if ok {
                    S::ESME_ROK
                } else {
                    S::ESME_RREPLACEFAIL
                };
                self.session.respond(seq, status, Body::ReplaceSmResp).await
            }
            other => {
                // Anything else the state allows but we do not serve.
                let pdu = Pdu::new(seq, other);
                self.session.respond_error(&pdu, S::ESME_RINVCMDID).await
            }
        }
    }

    fn own_record(&self, message_id: &[u8]) -> Option<Record> {
        let (sid, _, _) = self.bound.as_ref()?;
        let r = self.sim.record(self.sim.parse_id(message_id)?)?;
        (r.system_id == *sid).then_some(r)
    }

    async fn bind(
        &mut self,
        seq: u32,
        mode: BindMode,
        b: Bind<Bytes>,
    ) -> Result<(), smpp_session::SessionError> {
        let sim = &self.sim;
        let user_ok = sim
            .args
            .system_id
            .as_deref()
            .is_none_or(|s| s.as_bytes() == &b.system_id[..]);
        let pass_ok = sim
            .args
            .password
            .as_deref()
            .is_none_or(|p| p.as_bytes() == &b.password[..]);
        let resp = BindResp {
            system_id: Bytes::from_static(b"smsc-sim"),
            tlvs: Default::default(),
        };
        let body = mode.response(resp);
        if !(user_ok && pass_ok) {
            inc(&sim.counters.bind_refused);
            return self.session.respond(seq, S::ESME_RINVPASWD, body).await;
        }
        let system_id: Arc<str> = Arc::from(String::from_utf8_lossy(&b.system_id).as_ref());
        self.session.respond(seq, S::ESME_ROK, body).await?;
        tracing::Span::current().record("system_id", &*system_id);
        inc(&sim.counters.binds);
        inc(&sim.counters.binds_active);
        info!(system_id = %system_id, mode = mode.as_str(), peer = self.session.peer(), "bound");
        let key = mode
            .can_receive()
            .then(|| sim.register(system_id.clone(), self.session.clone()));
        self.bound = Some((system_id, mode, key));
        Ok(())
    }

    /// Decide a submit's fate; on acceptance remember it and schedule its
    /// receipts. Returns the status and, when accepted, the message id.
    fn accept_submit(&mut self, s: &SubmitSm<Bytes>, _parts: u32) -> (S, Option<String>) {
        let sim = self.sim.clone();
        let Some((system_id, _, _)) = self.bound.clone() else {
            return (S::ESME_RINVBNDSTS, None);
        };
        if sim.over_max_tps()
            || (sim.args.throttle_rate > 0.0 && self.dice.next() < sim.args.throttle_rate)
        {
            inc(&sim.counters.throttled);
            return (S::ESME_RTHROTTLED, None);
        }
        if sim.args.fail_rate > 0.0 && self.dice.next() < sim.args.fail_rate {
            inc(&sim.counters.submit_failed);
            return (sim.args.fail_status, None);
        }
        inc(&sim.counters.submit_ok);
        let n = sim.next_message();
        let id = sim.format_id(n);
        // NONE: accepted, and ENROUTE for ever (query_sm), no receipt.
        let outcome = sim.args.dlr_stat.pick(self.dice.next());
        let (state, err) = outcome.unwrap_or((MessageState::Enroute, 0));
        let delay = sim.args.dlr_delay();
        let now_unix = unix_now();
        let done_unix = now_unix + delay.as_secs() as i64;
        sim.remember(Record {
            id: n,
            system_id: system_id.clone(),
            final_at: Instant::now() + delay,
            final_unix: done_unix,
            state,
            err,
            cancelled: false,
        });
        let rd = s.registered_delivery;
        let text = receipt_text(s);
        let text = text.as_bytes();
        if rd.intermediate() {
            let body = receipt_body(
                &id,
                MessageState::Enroute,
                0,
                now_unix,
                now_unix,
                s,
                text,
                true,
            );
            sim.dispatch(
                &system_id,
                Outgoing {
                    body,
                    message: Some(n),
                },
            );
        }
        if outcome.is_none() {
            inc(&sim.counters.receipts_withheld);
        } else if rd.wants_final(state == MessageState::Delivered) {
            let body = receipt_body(&id, state, err, now_unix, done_unix, s, text, false);
            sim.dispatch_later(
                system_id,
                Outgoing {
                    body,
                    message: Some(n),
                },
                delay,
            );
        }
        (S::ESME_ROK, Some(id))
    }
}

/// MO traffic: `rate` messages a second to whoever has a receiver bound.
pub async fn run_mo(sim: Arc<Sim>, rate: f64) {
    let tick = Duration::from_millis(10);
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut credit = 0.0;
    let mut n: u64 = 0;
    loop {
        interval.tick().await;
        credit += rate * tick.as_secs_f64();
        while credit >= 1.0 {
            credit -= 1.0;
            n += 1;
            let Some(sid) = sim.any_receiver(n) else {
                credit = 0.0;
                break;
            };
            let body = smpp::pdu::DeliverSm {
                source: Address {
                    ton: smpp::pdu::Ton::INTERNATIONAL,
                    npi: smpp::pdu::Npi::ISDN,
                    addr: Bytes::from(format!("4477009{:05}", n % 100_000)),
                },
                destination: Address {
                    ton: smpp::pdu::Ton::NATIONAL,
                    npi: smpp::pdu::Npi::ISDN,
                    addr: Bytes::from_static(b"12345"),
                },
                short_message: Bytes::from(format!("MO message {n}")),
                ..Default::default()
            };
            sim.dispatch(
                &sid,
                Outgoing {
                    body,
                    message: None,
                },
            );
        }
    }
}

/// The first 20 characters of a submit's text for its receipt: UDH
/// skipped, decoded per data_coding, control characters left out.
fn receipt_text(s: &SubmitSm<Bytes>) -> String {
    smpp::text::Encoding::from_data_coding(s.data_coding.0)
        .decode(s.content())
        .chars()
        .filter(|c| !c.is_control())
        .take(smpp::receipt::RECEIPT_TEXT_CHARS)
        .collect()
}
