//! The submit path on the memory store: what is accepted is queued for
//! its route's connector and charged; each refusal has its SMPP status
//! and its reason, and changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use bytes::Bytes;
use smpp::CommandStatus as S;
use smpp::pdu::{Address, SubmitSm};

use super::*;
use crate::config::Config;
use crate::store::memory::MemoryStore;

const CONFIG: &str = "
[user:bob]
password = pw
credit = 0.25
[user:fast]
password = pw
throughput = 1
burst = 1
[connector:fr]
host = 127.0.0.1
port = 9
username = u
password = p
[connector:vip]
host = 127.0.0.1
port = 9
username = u
password = p
[filter:to-france]
type = destination_addr
value = ^33
[filter:tag-7]
type = tag
value = 7
[mt-route:20]
type = static
connectors = vip
filters = to-france, tag-7
rate = 0.1
[mt-route:10]
type = static
connectors = fr
filters = to-france
rate = 0.1
";

async fn context() -> Arc<Context<MemoryStore>> {
    let config = Config::parse(CONFIG, "test.ini", &|_| None).unwrap();
    Context::new(Arc::new(config), MemoryStore::new())
        .await
        .unwrap()
}

fn sms(to: &str) -> SubmitSm<Bytes> {
    SubmitSm {
        source: Address {
            addr: Bytes::from_static(b"Tern"),
            ..Default::default()
        },
        destination: Address {
            addr: Bytes::copy_from_slice(to.as_bytes()),
            ..Default::default()
        },
        short_message: Bytes::from_static(b"hello"),
        ..Default::default()
    }
}

fn user(ctx: &Context<MemoryStore>, name: &str) -> Arc<User> {
    Arc::new(ctx.config.load().users[name].clone())
}

#[tokio::test]
async fn an_accepted_message_is_queued_for_its_route_and_charged() {
    let ctx = context().await;
    let bob = user(&ctx, "bob");
    let id = submit(&ctx, &bob, sms("33612345678"), &[]).await.unwrap();
    assert_eq!(ctx.store.queue_depth("fr").await.unwrap(), 1);
    assert_eq!(ctx.store.balance("bob").await.unwrap(), Some(150_000));
    let st = ctx.store.status(&id).await.unwrap().unwrap();
    assert_eq!(st.user, "bob");
}

#[tokio::test]
async fn tags_feed_tag_filters() {
    let ctx = context().await;
    let bob = user(&ctx, "bob");
    submit(&ctx, &bob, sms("33612345678"), &[7]).await.unwrap();
    assert_eq!(ctx.store.queue_depth("vip").await.unwrap(), 1);
    assert_eq!(ctx.store.queue_depth("fr").await.unwrap(), 0);
    submit(&ctx, &bob, sms("33612345678"), &[8]).await.unwrap();
    assert_eq!(ctx.store.queue_depth("fr").await.unwrap(), 1);
}

#[tokio::test]
async fn each_refusal_has_its_status_and_reason_and_changes_nothing() {
    let ctx = context().await;
    let bob = user(&ctx, "bob");
    // No route (there is no default route).
    let e = submit(&ctx, &bob, sms("447700900123"), &[])
        .await
        .unwrap_err();
    assert_eq!(e, SubmitError::NoRoute);
    assert_eq!(e.status(), S::ESME_RINVDSTADR);
    assert_eq!(e.to_string(), "No route found");
    // A field fault.
    let e = submit(&ctx, &bob, sms("33-61"), &[]).await.unwrap_err();
    assert_eq!(e, SubmitError::Invalid(S::ESME_RINVDSTADR));
    assert_eq!(e.status(), S::ESME_RINVDSTADR);
    assert_eq!(e.to_string(), "invalid destination address");
    assert_eq!(ctx.store.balance("bob").await.unwrap(), Some(250_000));
    // Credit: 0.25 pays for two parts at 0.1, not a third.
    submit(&ctx, &bob, sms("33612345678"), &[]).await.unwrap();
    submit(&ctx, &bob, sms("33612345678"), &[]).await.unwrap();
    let e = submit(&ctx, &bob, sms("33612345678"), &[])
        .await
        .unwrap_err();
    assert_eq!(
        (e.clone(), e.status()),
        (SubmitError::NoCredit, S::ESME_RSUBMITFAIL)
    );
    assert_eq!(ctx.store.queue_depth("fr").await.unwrap(), 2);
    // Throughput: a burst of one.
    let fast = user(&ctx, "fast");
    submit(&ctx, &fast, sms("33612345678"), &[]).await.unwrap();
    let e = submit(&ctx, &fast, sms("33612345678"), &[])
        .await
        .unwrap_err();
    assert_eq!(
        (e.clone(), e.status()),
        (SubmitError::Throttled, S::ESME_RTHROTTLED)
    );
    assert_eq!(ctx.store.queue_depth("fr").await.unwrap(), 3);
}

#[test]
fn store_refusals_are_temporary_smpp_statuses() {
    assert_eq!(SubmitError::QueueFull.status(), S::ESME_RMSGQFUL);
    assert_eq!(SubmitError::Unavailable.status(), S::ESME_RMSGQFUL);
    assert!(SubmitError::Unavailable.status().is_temporary());
    assert_eq!(
        SubmitError::Invalid(S::ESME_RINVEXPIRY).to_string(),
        "invalid validity period"
    );
}

#[tokio::test]
async fn a_message_without_a_stored_form_is_refused_for_good() {
    let ctx = context().await;
    let bob = user(&ctx, "bob");
    // Valid as a message (two parts), but short_message holds 254 octets
    // at most: the store cannot write it.
    let mut s = sms("33612345678");
    s.short_message = Bytes::from(vec![b'x'; 300]);
    let e = submit(&ctx, &bob, s, &[]).await.unwrap_err();
    assert!(matches!(e, SubmitError::Unstorable(_)), "{e:?}");
    assert_eq!(e.status(), S::ESME_RSUBMITFAIL);
    assert!(!e.status().is_temporary());
    assert!(e.to_string().starts_with("message cannot be stored"), "{e}");
    assert_eq!(ctx.store.balance("bob").await.unwrap(), Some(250_000));
    assert_eq!(ctx.store.queue_depth("fr").await.unwrap(), 0);
}

mod replace_sm {
    use super::*;
    use crate::store::Store;
    use crate::submit::replace::{ReplaceError, replace};
    use smpp::pdu::{RegisteredDelivery, ReplaceSm};

    fn replace_sm(id: &str, text: &'static [u8]) -> ReplaceSm<Bytes> {
        ReplaceSm {
            message_id: Bytes::copy_from_slice(id.as_bytes()),
            short_message: Bytes::from_static(text),
            registered_delivery: RegisteredDelivery::FINAL,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_queued_message_gets_its_new_text_for_its_owner_only() {
        let ctx = context().await;
        let bob = user(&ctx, "bob");
        let id = submit(&ctx, &bob, sms("33612345678"), &[]).await.unwrap();
        let fast = user(&ctx, "fast");
        assert_eq!(
            replace(&ctx, &fast, &replace_sm(&id, b"mine now")).await,
            Err(ReplaceError::NotFound)
        );
        assert_eq!(
            replace(&ctx, &bob, &replace_sm("no-such-id", b"x")).await,
            Err(ReplaceError::NotFound)
        );
        replace(&ctx, &bob, &replace_sm(&id, b"hello again"))
            .await
            .unwrap();
        // The same charge, the same queue; the connector takes the new text.
        assert_eq!(ctx.store.balance("bob").await.unwrap(), Some(150_000));
        assert_eq!(ctx.store.queue_depth("fr").await.unwrap(), 1);
        let taken = ctx
            .store
            .take("fr", "w", 10, std::time::Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(taken.len(), 1);
        let m = &taken[0].message;
        assert_eq!(&m.submit.short_message[..], b"hello again");
        assert_eq!(m.submit.registered_delivery, RegisteredDelivery::FINAL);
        assert_eq!(&m.submit.destination.addr[..], b"33612345678");
        // Taken by its connector: too late.
        assert_eq!(
            replace(&ctx, &bob, &replace_sm(&id, b"later")).await,
            Err(ReplaceError::TooLate)
        );
    }

    #[tokio::test]
    async fn the_new_content_is_checked_as_a_submit_and_keeps_its_parts_and_route() {
        let ctx = context().await;
        let bob = user(&ctx, "bob");
        let id = submit(&ctx, &bob, sms("33612345678"), &[]).await.unwrap();
        let mut r = replace_sm(&id, b"x");
        r.registered_delivery = RegisteredDelivery(3);
        let e = replace(&ctx, &bob, &r).await.unwrap_err();
        assert_eq!(e.status(), S::ESME_RINVREGDLVFLG);
        let mut r = replace_sm(&id, b"x");
        r.validity_period = Bytes::from_static(b"nonsense");
        assert_eq!(
            replace(&ctx, &bob, &r).await.unwrap_err().status(),
            S::ESME_RINVEXPIRY
        );
        let mut r = replace_sm(&id, b"x");
        r.sm_default_msg_id = 3;
        assert_eq!(
            replace(&ctx, &bob, &r).await.unwrap_err().status(),
            S::ESME_RINVDFTMSGID
        );
        let mut r = replace_sm(&id, b"x");
        r.source.addr = Bytes::from_static(b"Other");
        assert_eq!(
            replace(&ctx, &bob, &r).await,
            Err(ReplaceError::SourceDiffers)
        );
        // 161 GSM characters are two parts; the message was charged one.
        let mut r = replace_sm(&id, b"x");
        r.short_message = Bytes::from(vec![b'a'; 161]);
        let e = replace(&ctx, &bob, &r).await.unwrap_err();
        assert_eq!(e, ReplaceError::PartsDiffer { was: 1, now: 2 });
        assert_eq!(e.status(), S::ESME_RREPLACEFAIL);
        let taken = ctx
            .store
            .take("fr", "w", 10, std::time::Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(&taken[0].message.submit.short_message[..], b"hello");
        assert_eq!(ctx.store.balance("bob").await.unwrap(), Some(150_000));
    }

    #[tokio::test]
    async fn a_replacement_that_another_route_would_take_is_refused() {
        // A route that sees the text: "vip" for texts that say VIP.
        let config = format!(
            "{CONFIG}
[filter:says-vip]
type = short_message
value = VIP
[mt-route:30]
type = static
connectors = vip
filters = to-france, says-vip
rate = 0.1
"
        );
        let config = Config::parse(&config, "test.ini", &|_| None).unwrap();
        let ctx = Context::new(Arc::new(config), MemoryStore::new())
            .await
            .unwrap();
        let bob = user(&ctx, "bob");
        let id = submit(&ctx, &bob, sms("33612345678"), &[]).await.unwrap();
        assert_eq!(
            replace(&ctx, &bob, &replace_sm(&id, b"now VIP")).await,
            Err(ReplaceError::RouteDiffers)
        );
        replace(&ctx, &bob, &replace_sm(&id, b"still plain"))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_message_moved_on_to_its_next_connector_is_replaced_there() {
        let config = format!(
            "{CONFIG}[connector:uk]\nhost = 127.0.0.1\nport = 9\nusername = u\npassword = p\n\
             [filter:to-uk]\ntype = destination_addr\nvalue = ^44\n\
             [mt-route:30]\ntype = failover\nconnectors = uk, fr\nfilters = to-uk\nrate = 0.1\n\
             reroute_on = ESME_RINVDSTADR\n"
        );
        let config = Config::parse(&config, "test.ini", &|_| None).unwrap();
        let ctx = Context::new(Arc::new(config), MemoryStore::new())
            .await
            .unwrap();
        let bob = user(&ctx, "bob");
        let id = submit(&ctx, &bob, sms("447700900123"), &[]).await.unwrap();
        let zero = std::time::Duration::ZERO;
        let taken = ctx.store.take("uk", "w", 10, zero).await.unwrap();
        let next = taken[0].message.moved_on(|_| true).unwrap();
        ctx.store.reroute("uk", &taken[0], &next).await.unwrap();
        // Its route is the same; what it has left is the route's.
        replace(&ctx, &bob, &replace_sm(&id, b"replaced at fr"))
            .await
            .unwrap();
        let taken = ctx.store.take("fr", "w", 10, zero).await.unwrap();
        assert_eq!(
            &taken[0].message.submit.short_message[..],
            b"replaced at fr"
        );
        assert_eq!(taken[0].message.connectors, vec!["fr".to_string()]);
        assert_eq!(ctx.store.balance("bob").await.unwrap(), Some(150_000));
    }
}

/// A failover route queues on its first connector bound in this process,
/// the rest following in the route's order; on its first when none is.
#[tokio::test]
async fn a_failover_route_queues_on_its_first_bound_connector() {
    let text = format!(
        "{CONFIG}[connector:uk]\nhost = 127.0.0.1\nport = 9\nusername = u\npassword = p\n\
         [filter:to-uk]\ntype = destination_addr\nvalue = ^44\n\
         [mt-route:30]\ntype = failover\nconnectors = fr, vip, uk\nfilters = to-uk\n"
    );
    let config = Config::parse(&text, "test.ini", &|_| None).unwrap();
    let ctx = Context::new(Arc::new(config), MemoryStore::new())
        .await
        .unwrap();
    let bob = user(&ctx, "bob");
    let queued = |ctx: &Arc<Context<MemoryStore>>| {
        let ctx = ctx.clone();
        async move {
            let mut q = Vec::new();
            for c in ["fr", "vip", "uk"] {
                q.push(ctx.store.queue_depth(c).await.unwrap());
            }
            q
        }
    };
    // None bound: the first.
    submit(&ctx, &bob, sms("447700900123"), &[]).await.unwrap();
    assert_eq!(queued(&ctx).await, [1, 0, 0]);
    // vip bound: vip, then uk, then fr.
    let vip = ctx.connectors.up("vip");
    submit(&ctx, &bob, sms("447700900123"), &[]).await.unwrap();
    assert_eq!(queued(&ctx).await, [1, 1, 0]);
    let taken = ctx
        .store
        .take("vip", "w", 1, std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(taken[0].message.connectors, ["vip", "uk", "fr"]);
    // fr back: fr again.
    let _fr = ctx.connectors.up("fr");
    submit(&ctx, &bob, sms("447700900123"), &[]).await.unwrap();
    assert_eq!(queued(&ctx).await, [2, 0, 0]);
    drop(vip);
}
