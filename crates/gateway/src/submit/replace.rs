//! replace_sm (SMPP 3.4 §4.10) on the submit path: a message that still
//! waits for its connector gets new content, checked and routed as a
//! submit is ([`super::plan`]: the same validation with the same
//! statuses, the same routes), and swapped in by the store atomically
//! ([`Store::replace`]), its owner only.
//!
//! What changes, per §4.10.1: short_message (it takes the place of the
//! text, short_message or message_payload, and is read in the original's
//! data_coding and esm_class), registered_delivery and sm_default_msg_id
//! always; schedule_delivery_time and validity_period when given (NULL
//! keeps the original's). source_addr, when given, must be the
//! original's (the spec's verification). Everything else — destination,
//! connectors, the price per part — is the original's.
//!
//! Refused with ESME_RREPLACEFAIL (and nothing changed) when the message
//! is not this user's, is already taken by a connector or sent, when
//! the new content has another number of parts (its charge and the
//! throughput it used were counted per part: docs/store.md, "Replace"),
//! or when it would take another route (a route's filters may look at
//! the text).

use bytes::Bytes;
use smpp::CommandStatus;
use smpp::pdu::{ReplaceSm, SubmitSm};
use smpp::tlv::{TlvTag, TlvsBuilder};

use super::{SubmitError, plan};
use crate::config::{Credit, User};
use crate::context::Context;
use crate::store::{ReplaceOutcome, Replacement, Store, StoredMessage, now_us};

/// Why a replace_sm was refused. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplaceError {
    /// The new content fails a submit's check (its status) or no route
    /// takes it.
    #[error(transparent)]
    Submit(SubmitError),
    /// No such message of this user.
    #[error("no such message")]
    NotFound,
    /// Already taken by a connector, sent upstream or final.
    #[error("the message is no longer queued")]
    TooLate,
    /// source_addr is not the original's.
    #[error("source_addr is not the message's")]
    SourceDiffers,
    /// The new content is sent as another number of parts.
    #[error("the replacement has {now} parts, the message {was}")]
    PartsDiffer { was: u32, now: u32 },
    /// The new content would be routed elsewhere, or priced otherwise.
    #[error("the replacement takes another route")]
    RouteDiffers,
    /// The store cannot answer (temporary).
    #[error("store unavailable")]
    Unavailable,
}

impl ReplaceError {
    /// The replace_sm_resp status.
    pub fn status(&self) -> CommandStatus {
        match self {
            ReplaceError::Submit(e) => e.status(),
            ReplaceError::Unavailable => CommandStatus::ESME_RSYSERR,
            ReplaceError::NotFound
            | ReplaceError::TooLate
            | ReplaceError::SourceDiffers
            | ReplaceError::PartsDiffer { .. }
            | ReplaceError::RouteDiffers => CommandStatus::ESME_RREPLACEFAIL,
        }
    }
}

/// Replace `user`'s message `r.message_id` with `r`'s content, if it
/// still waits for its connector.
pub async fn replace<S: Store>(
    ctx: &Context<S>,
    user: &User,
    r: &ReplaceSm<Bytes>,
) -> Result<(), ReplaceError> {
    let id = String::from_utf8_lossy(&r.message_id);
    let now_ms = now_us() / 1000;
    let edit = |old: &StoredMessage| replacement(ctx, user, r, old, now_ms);
    match ctx.store.replace(&id, &user.system_id, edit).await {
        Ok(ReplaceOutcome::Replaced) => Ok(()),
        Ok(ReplaceOutcome::Refused(e)) => Err(e),
        Ok(ReplaceOutcome::PartsDiffer { was, now }) => Err(ReplaceError::PartsDiffer { was, now }),
        Ok(ReplaceOutcome::TooLate) => Err(ReplaceError::TooLate),
        Ok(ReplaceOutcome::NotFound) => Err(ReplaceError::NotFound),
        Err(_) => Err(ReplaceError::Unavailable),
    }
}

/// What `old` becomes under `r`, checked and routed at `now_ms` as a
/// submit of it would be.
fn replacement<S: Store>(
    ctx: &Context<S>,
    user: &User,
    r: &ReplaceSm<Bytes>,
    old: &StoredMessage,
    now_ms: i64,
) -> Result<Replacement, ReplaceError> {
    if !r.source.addr.is_empty() && r.source.addr != old.submit.source.addr {
        return Err(ReplaceError::SourceDiffers);
    }
    let submit = replaced_submit(&old.submit, r);
    let p = plan(ctx, user, &submit, &[], now_ms).map_err(ReplaceError::Submit)?;
    let rate = match p.route.rate {
        Credit::Micro(r) => r,
        Credit::Unlimited => 0,
    };
    // The same route: round-robin and failover routes order their
    // connectors by turn and by state, and a message moved on
    // (`failover_after`, `reroute_on`) has the connectors it was queued
    // for or tried dropped, so what it has left is within the route's.
    let same_route = match old.route {
        Some(order) => order == p.route.order,
        // Stored before the route was kept: its connectors as a set.
        None => true,
    };
    let within = old
        .connectors
        .iter()
        .all(|c| p.route.connectors().any(|r| **r == **c));
    let whole = old.route.is_some() || old.connectors.len() == p.route.connectors().count();
    if !same_route || !within || !whole || rate != old.rate_micro {
        return Err(ReplaceError::RouteDiffers);
    }
    let expires_ms = if r.validity_period.is_empty() {
        old.expires_ms
    } else {
        p.checked.expires_s.map(|e| e * 1000)
    };
    Ok(Replacement {
        submit,
        parts: p.checked.parts,
        expires_ms,
    })
}

/// `old` with `r`'s fields: its short_message in place of the text
/// (message_payload dropped), and the times only when given.
fn replaced_submit(old: &SubmitSm<Bytes>, r: &ReplaceSm<Bytes>) -> SubmitSm<Bytes> {
    let mut s = old.clone();
    s.short_message = r.short_message.clone();
    if s.tlvs.contains(TlvTag::MESSAGE_PAYLOAD) {
        let mut t = TlvsBuilder::new();
        for tlv in s.tlvs.iter().filter(|t| t.tag != TlvTag::MESSAGE_PAYLOAD) {
            t.push(tlv.tag, tlv.value);
        }
        s.tlvs = t.build();
    }
    s.registered_delivery = r.registered_delivery;
    s.sm_default_msg_id = r.sm_default_msg_id;
    if !r.schedule_delivery_time.is_empty() {
        s.schedule_delivery_time = r.schedule_delivery_time.clone();
    }
    if !r.validity_period.is_empty() {
        s.validity_period = r.validity_period.clone();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use smpp::pdu::RegisteredDelivery;

    fn original() -> SubmitSm<Bytes> {
        let mut t = TlvsBuilder::new();
        t.push_u16(TlvTag::USER_MESSAGE_REFERENCE, 7);
        t.push(TlvTag::MESSAGE_PAYLOAD, b"a long text in the payload");
        SubmitSm {
            short_message: Bytes::new(),
            validity_period: Bytes::from_static(b"000001000000000R"),
            schedule_delivery_time: Bytes::from_static(b"000000010000000R"),
            tlvs: t.build(),
            ..Default::default()
        }
    }

    #[test]
    fn the_new_text_takes_the_place_of_the_payload_and_null_times_are_kept() {
        let r = ReplaceSm {
            short_message: Bytes::from_static(b"new"),
            registered_delivery: RegisteredDelivery::FINAL,
            ..Default::default()
        };
        let s = replaced_submit(&original(), &r);
        assert_eq!(&s.short_message[..], b"new");
        assert_eq!(s.tlvs.message_payload(), None);
        assert_eq!(s.tlvs.user_message_reference(), Some(7));
        assert_eq!(s.registered_delivery, RegisteredDelivery::FINAL);
        assert_eq!(s.validity_period, original().validity_period);
        assert_eq!(s.schedule_delivery_time, original().schedule_delivery_time);
        let r = ReplaceSm {
            validity_period: Bytes::from_static(b"000002000000000R"),
            schedule_delivery_time: Bytes::from_static(b"000000020000000R"),
            ..r
        };
        let s = replaced_submit(&original(), &r);
        assert_eq!(&s.validity_period[..], b"000002000000000R");
        assert_eq!(&s.schedule_delivery_time[..], b"000000020000000R");
    }

    #[test]
    fn every_refusal_but_a_fields_is_replace_failed() {
        assert_eq!(
            ReplaceError::Submit(SubmitError::Invalid(CommandStatus::ESME_RINVSCHED)).status(),
            CommandStatus::ESME_RINVSCHED
        );
        assert_eq!(
            ReplaceError::Unavailable.status(),
            CommandStatus::ESME_RSYSERR
        );
        for e in [
            ReplaceError::NotFound,
            ReplaceError::TooLate,
            ReplaceError::SourceDiffers,
            ReplaceError::PartsDiffer { was: 1, now: 2 },
            ReplaceError::RouteDiffers,
        ] {
            assert_eq!(e.status(), CommandStatus::ESME_RREPLACEFAIL, "{e}");
        }
    }
}
