//! The one submit path every front end takes (the SMPP front end today,
//! the HTTP API next): a user's message is checked field by field
//! ([`validate`]), routed (router: its filters see the tags the caller
//! gives), and handed to the store, which throttles, charges and queues
//! it in one atomic step. Only then is the message id returned: the
//! message is durable before the caller answers.
//!
//! The caller has authenticated the user (a bind, or HTTP credentials);
//! this module knows no protocol. [`SubmitError`] says why a message was
//! refused, as the SMPP status DESIGN.md's table gives and as a reason a
//! person can read (the HTTP API's `Error "<reason>"`).
//!
//! [`replace`] puts new content in a message still queued (replace_sm)
//! through the same checks and routes ([`plan`]).

pub mod replace;
pub mod validate;

use bytes::Bytes;
use smpp::CommandStatus;
use smpp::pdu::SubmitSm;

use crate::config::{Credit, MtRouteType, User};
use crate::context::Context;
use crate::router::{MtContext, MtDecision};
use crate::store::{Limit, ReceiptCallback, Refusal, Store, StoredMessage, Submission, now_us};

/// Why a submit was refused. Nothing was charged or queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// A field is wrong; the status names which.
    #[error("{}", invalid_reason(*.0))]
    Invalid(CommandStatus),
    /// No route matches the message.
    #[error("No route found")]
    NoRoute,
    /// Over the user's throughput.
    #[error("throughput exceeded")]
    Throttled,
    /// Not enough credit.
    #[error("not enough credit")]
    NoCredit,
    /// The connector's queue is over its limit.
    #[error("queue full")]
    QueueFull,
    /// The store cannot be reached (temporary).
    #[error("store unavailable")]
    Unavailable,
    /// The message has no stored form (a field too long for the store's
    /// length prefixes, a submit_sm that does not encode): permanent.
    #[error("message cannot be stored: {0}")]
    Unstorable(String),
}

impl SubmitError {
    /// The SMPP status of the refusal (DESIGN.md, "SMPP front end: status
    /// codes").
    pub fn status(&self) -> CommandStatus {
        match self {
            SubmitError::Invalid(s) => *s,
            SubmitError::NoRoute => CommandStatus::ESME_RINVDSTADR,
            SubmitError::Throttled => CommandStatus::ESME_RTHROTTLED,
            SubmitError::NoCredit => CommandStatus::ESME_RSUBMITFAIL,
            SubmitError::QueueFull | SubmitError::Unavailable => CommandStatus::ESME_RMSGQFUL,
            // The generic permanent refusal of a submit: the store cannot
            // say which field is at fault (a length, a NUL in a C-Octet
            // String, too many entries), so no field's status would be
            // true; and not RMSGQFUL, which tells the ESME to retry.
            SubmitError::Unstorable(_) => CommandStatus::ESME_RSUBMITFAIL,
        }
    }
}

/// What a field fault says to a person, by the status validation gave it.
fn invalid_reason(status: CommandStatus) -> &'static str {
    match status {
        CommandStatus::ESME_RINVDSTADR => "invalid destination address",
        CommandStatus::ESME_RINVSRCADR => "source address not allowed",
        CommandStatus::ESME_RINVESMCLASS => "invalid esm_class or UDH",
        CommandStatus::ESME_RINVREGDLVFLG => "invalid registered_delivery",
        CommandStatus::ESME_RINVPRTFLG => "invalid priority",
        CommandStatus::ESME_RINVREPFLAG => "invalid replace_if_present_flag",
        CommandStatus::ESME_RINVDFTMSGID => "invalid sm_default_msg_id",
        CommandStatus::ESME_RINVSCHED => "invalid schedule_delivery_time",
        CommandStatus::ESME_RINVEXPIRY => "invalid validity period",
        CommandStatus::ESME_RINVMSGLEN => "invalid message length",
        other => other.description().unwrap_or("invalid message"),
    }
}

/// What a message would be: its parts and where it goes. What [`submit`]
/// stores and what `/rate` reports.
#[derive(Debug, Clone)]
pub struct Plan {
    pub checked: validate::Checked,
    pub route: MtDecision,
}

/// Check and route `s` from `user` at `now_ms` (Unix ms), with `tags`
/// for the routes' tag filters; nothing is charged or stored.
pub fn plan<S: Store>(
    ctx: &Context<S>,
    user: &User,
    s: &SubmitSm<Bytes>,
    tags: &[u32],
    now_ms: i64,
) -> Result<Plan, SubmitError> {
    let checked = validate::check_submit(s, &user.source_addr, now_ms / 1000)
        .map_err(SubmitError::Invalid)?;
    let source = String::from_utf8_lossy(&s.source.addr);
    let destination = String::from_utf8_lossy(&s.destination.addr);
    let route = ctx
        .router
        .load()
        .route_mt(&MtContext {
            system_id: &user.system_id,
            group: user.group.as_deref(),
            source_addr: &source,
            destination_addr: &destination,
            text: &checked.text,
            tags,
            now: now_ms / 1000,
        })
        .ok_or(SubmitError::NoRoute)?;
    Ok(Plan { checked, route })
}

/// Check, route and store `s` from `user`, with `tags` for the routes'
/// tag filters: the new message's id once it is durable, or why not.
pub async fn submit<S: Store>(
    ctx: &Context<S>,
    user: &User,
    s: SubmitSm<Bytes>,
    tags: &[u32],
) -> Result<String, SubmitError> {
    submit_with(ctx, user, s, tags, None).await
}

/// [`submit`], with the receipts going to `callback` (HTTP `dlr-url`)
/// instead of the user's receiver binds.
pub async fn submit_with<S: Store>(
    ctx: &Context<S>,
    user: &User,
    s: SubmitSm<Bytes>,
    tags: &[u32],
    callback: Option<ReceiptCallback>,
) -> Result<String, SubmitError> {
    let started = std::time::Instant::now();
    let result = store_submit(ctx, user, s, tags, callback).await;
    let status = result
        .as_ref()
        .map_or_else(SubmitError::status, |_| CommandStatus::ESME_ROK);
    ctx.metrics
        .submitted(&user.system_id, status, started.elapsed());
    result
}

/// [`submit_with`] but for its metrics.
async fn store_submit<S: Store>(
    ctx: &Context<S>,
    user: &User,
    s: SubmitSm<Bytes>,
    tags: &[u32],
    callback: Option<ReceiptCallback>,
) -> Result<String, SubmitError> {
    let now_ms = now_us() / 1000;
    let Plan {
        checked,
        route: decision,
    } = plan(ctx, user, &s, tags, now_ms)?;
    let rate = match decision.rate {
        Credit::Micro(r) => r,
        Credit::Unlimited => 0,
    };
    let message = StoredMessage {
        id: uuid::Uuid::new_v4().to_string(),
        user: user.system_id.clone(),
        connectors: queue_order(ctx, &decision),
        submit: s,
        parts: checked.parts,
        rate_micro: rate,
        accepted_ms: now_ms,
        expires_ms: checked.expires_s.map(|e| e * 1000),
        callback,
        route: Some(decision.order),
    };
    let submission = Submission {
        message: &message,
        throttle: (user.throughput > 0).then_some(Limit {
            rate: user.throughput,
            burst: user.burst,
        }),
        charge_micro: match user.credit {
            Credit::Unlimited => None,
            Credit::Micro(_) => Some(message.charge_micro()),
        },
        queue_limit: ctx.config.load().queue_limit,
    };
    match ctx.store.submit(submission).await {
        Ok(()) => Ok(message.id),
        Err(Refusal::Throttled) => {
            ctx.metrics.throttled(&user.system_id);
            Err(SubmitError::Throttled)
        }
        Err(Refusal::NoCredit) => {
            ctx.metrics.credit_refused(&user.system_id);
            Err(SubmitError::NoCredit)
        }
        Err(Refusal::QueueFull) => Err(SubmitError::QueueFull),
        Err(Refusal::Unavailable(_)) => Err(SubmitError::Unavailable),
        Err(Refusal::Unstorable(why)) => Err(SubmitError::Unstorable(why)),
    }
}

/// The connectors a message is queued for, the first one's queue first:
/// the route's order, except that a failover route starts at its first
/// connector bound in this process (DESIGN.md, "Routing: failover and
/// re-routing"), the others following in the route's order from there,
/// and at its first connector when none is bound.
fn queue_order<S: Store>(ctx: &Context<S>, decision: &MtDecision) -> Vec<String> {
    let mut connectors: Vec<String> = decision.connectors().map(|c| c.to_string()).collect();
    if decision.kind == MtRouteType::Failover {
        if let Some(i) = connectors.iter().position(|c| ctx.connectors.is_bound(c)) {
            connectors.rotate_left(i);
        }
    }
    connectors
}

#[cfg(test)]
mod tests;
