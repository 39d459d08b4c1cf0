//! submit_multi (SMPP 3.4 §4.5): one request, up to 254 destinations,
//! each an ordinary message through the one submit path
//! ([`crate::submit::submit`]: the same checks, throughput, credit,
//! routing and store as a submit_sm), each accepted or refused on its
//! own, in the request's order.
//!
//! The answer (§4.5.2 has one message_id and a list of unsuccessful
//! destinations):
//!
//! - message_id: the first accepted destination's message id. Every
//!   destination is a message of its own, with its own id, receipt and
//!   query_sm/cancel_sm/replace_sm; §4.5.2 has room for one id, and an
//!   ESME matches the others' receipts by their source_addr (the
//!   destination). The spec's own model (one id for the whole
//!   submission) would make cancel_sm and query_sm ambiguous here.
//! - unsuccess_smes: each refused destination with the status a
//!   submit_sm to it alone would have had; a distribution list (dest_flag
//!   2: Tern keeps none) with ESME_RINVDLNAME, its name as the address.
//! - command_status: ESME_ROK when at least one destination was accepted;
//!   otherwise the first refusal's status (so an ESME whose every
//!   destination was throttled sees ESME_RTHROTTLED and retries), with
//!   the list all the same. number_of_dests of 0 or above 254 is
//!   ESME_RINVNUMDESTS, and nothing is submitted.

use bytes::Bytes;
use smpp::CommandStatus as S;
use smpp::pdu::{Address, Destination, SubmitMulti, SubmitMultiResp, SubmitSm, UnsuccessSme};
use tracing::debug;

use crate::config::User;
use crate::context::Context;
use crate::store::Store;
use crate::submit::submit;

/// The most destinations one submit_multi may name (§4.5.1: 254).
pub const DESTINATIONS_MAX: usize = 254;

/// Submit each destination of `m` for `user`: the response's status and
/// body.
pub async fn submit_multi<St: Store>(
    ctx: &Context<St>,
    user: &User,
    m: SubmitMulti<Bytes>,
) -> (S, SubmitMultiResp<Bytes>) {
    let n = m.destinations.len();
    if n == 0 || n > DESTINATIONS_MAX {
        debug!(
            destinations = n,
            "submit_multi refused: number of destinations"
        );
        return (S::ESME_RINVNUMDESTS, SubmitMultiResp::default());
    }
    let mut first_id: Option<String> = None;
    let mut unsuccess_smes = Vec::new();
    for d in &m.destinations {
        let (address, status) = match d {
            Destination::Sme(address) => match submit(ctx, user, one(&m, address), &[]).await {
                Ok(id) => {
                    first_id.get_or_insert(id);
                    continue;
                }
                Err(e) => (address.clone(), e.status()),
            },
            Destination::DistributionList(name) => (
                Address {
                    addr: name.clone(),
                    ..Default::default()
                },
                S::ESME_RINVDLNAME,
            ),
        };
        unsuccess_smes.push(UnsuccessSme {
            address,
            error_status: status,
        });
    }
    let status = match (&first_id, unsuccess_smes.first()) {
        (None, Some(u)) => u.error_status,
        _ => S::ESME_ROK,
    };
    debug!(
        destinations = n,
        refused = unsuccess_smes.len(),
        "submit_multi"
    );
    let resp = SubmitMultiResp {
        message_id: first_id.map(Bytes::from).unwrap_or_default(),
        unsuccess_smes,
        tlvs: Default::default(),
    };
    (status, resp)
}

/// The submit_sm of `m` to one destination.
fn one(m: &SubmitMulti<Bytes>, destination: &Address<Bytes>) -> SubmitSm<Bytes> {
    SubmitSm {
        service_type: m.service_type.clone(),
        source: m.source.clone(),
        destination: destination.clone(),
        esm_class: m.esm_class,
        protocol_id: m.protocol_id,
        priority_flag: m.priority_flag,
        schedule_delivery_time: m.schedule_delivery_time.clone(),
        validity_period: m.validity_period.clone(),
        registered_delivery: m.registered_delivery,
        replace_if_present_flag: m.replace_if_present_flag,
        data_coding: m.data_coding,
        sm_default_msg_id: m.sm_default_msg_id,
        short_message: m.short_message.clone(),
        tlvs: m.tlvs.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::Arc;

    use super::*;
    use crate::config::Config;
    use crate::store::memory::MemoryStore;

    const CONFIG: &str = "
[user:bob]
password = pw
credit = 0.25
[connector:fr]
host = 127.0.0.1
port = 9
username = u
password = p
[filter:to-france]
type = destination_addr
value = ^33
[mt-route:10]
type = static
connectors = fr
filters = to-france
rate = 0.1
";

    async fn context() -> (Arc<Context<MemoryStore>>, User) {
        let config = Config::parse(CONFIG, "test.ini", &|_| None).unwrap();
        let ctx = Context::new(Arc::new(config), MemoryStore::new())
            .await
            .unwrap();
        let bob = ctx.config.load().users["bob"].clone();
        (ctx, bob)
    }

    fn sme(addr: &'static [u8]) -> Destination<Bytes> {
        Destination::Sme(Address {
            addr: Bytes::from_static(addr),
            ..Default::default()
        })
    }

    fn multi(destinations: Vec<Destination<Bytes>>) -> SubmitMulti<Bytes> {
        SubmitMulti {
            source: Address {
                addr: Bytes::from_static(b"Tern"),
                ..Default::default()
            },
            destinations,
            short_message: Bytes::from_static(b"hello all"),
            ..Default::default()
        }
    }

    fn refused(r: &SubmitMultiResp<Bytes>) -> Vec<(&[u8], S)> {
        r.unsuccess_smes
            .iter()
            .map(|u| (&u.address.addr[..], u.error_status))
            .collect()
    }

    #[tokio::test]
    async fn each_destination_is_a_message_accepted_or_refused_on_its_own() {
        let (ctx, bob) = context().await;
        let m = multi(vec![
            sme(b"447700900123"),
            sme(b"33611111111"),
            Destination::DistributionList(Bytes::from_static(b"friends")),
            sme(b"33-bad"),
            sme(b"33622222222"),
            // Credit for two parts only: the third French one is refused.
            sme(b"33633333333"),
        ]);
        let (status, r) = submit_multi(&ctx, &bob, m).await;
        assert_eq!(status, S::ESME_ROK);
        assert_eq!(
            refused(&r),
            vec![
                (&b"447700900123"[..], S::ESME_RINVDSTADR),
                (b"friends", S::ESME_RINVDLNAME),
                (b"33-bad", S::ESME_RINVDSTADR),
                (b"33633333333", S::ESME_RSUBMITFAIL),
            ]
        );
        // The first accepted destination's id; each its own message.
        let id = String::from_utf8(r.message_id.to_vec()).unwrap();
        assert_eq!(ctx.store.status(&id).await.unwrap().unwrap().user, "bob");
        assert_eq!(ctx.store.queue_depth("fr").await.unwrap(), 2);
        assert_eq!(ctx.store.balance("bob").await.unwrap(), Some(50_000));
        let taken = ctx
            .store
            .take("fr", "w", 10, std::time::Duration::ZERO)
            .await
            .unwrap();
        let to: Vec<&[u8]> = taken
            .iter()
            .map(|t| &t.message.submit.destination.addr[..])
            .collect();
        assert_eq!(to, vec![&b"33611111111"[..], b"33622222222"]);
        assert_eq!(taken[0].message.id, id);
        assert_ne!(taken[1].message.id, id);
    }

    #[tokio::test]
    async fn all_refused_is_the_first_refusal_and_the_count_is_checked() {
        let (ctx, bob) = context().await;
        let m = multi(vec![
            Destination::DistributionList(Bytes::from_static(b"all")),
            sme(b"447700900123"),
        ]);
        let (status, r) = submit_multi(&ctx, &bob, m).await;
        assert_eq!(status, S::ESME_RINVDLNAME);
        assert!(r.message_id.is_empty());
        assert_eq!(refused(&r).len(), 2);
        let (status, r) = submit_multi(&ctx, &bob, multi(Vec::new())).await;
        assert_eq!(
            (status, r),
            (S::ESME_RINVNUMDESTS, SubmitMultiResp::default())
        );
        let many = (0..255).map(|_| sme(b"33611111111")).collect();
        let (status, _) = submit_multi(&ctx, &bob, multi(many)).await;
        assert_eq!(status, S::ESME_RINVNUMDESTS);
        assert_eq!(ctx.store.queue_depth("fr").await.unwrap(), 0);
        assert_eq!(ctx.store.balance("bob").await.unwrap(), Some(250_000));
    }
}
