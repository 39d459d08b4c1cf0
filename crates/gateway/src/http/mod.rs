//! The HTTP API on `[http-api] bind/port` (shared/DESIGN.md, "HTTP API"):
//! Jasmin's `/send` (GET query or POST form) answered as Jasmin does, the
//! JSON `POST /send` of the HTTP-to-SMPP example (Basic auth →
//! `{"messageId"}`), `/balance`, `/rate`, `/ping` (liveness), `/health`
//! (readiness: the store answers and a connector is bound), Jasmin's
//! REST flavour under `/secure/` ([`rest`], [`batch`]), and `/metrics`
//! for Prometheus ([`scrape`]).
//!
//! A /send takes the one submit path the SMPP front end takes
//! ([`crate::submit`]): the same credentials check and cool-down
//! ([`crate::accounts::Accounts::authenticate`], counted against the
//! client's IP as a bind is), throughput shared with the user's binds,
//! credit, validation, routing (with the request's `tags`) and the store
//! before the answer; a message sent here is queried over SMPP like any.
//! [`send_message`] is that path for every flavour and every message of a
//! batch. Credentials come as `username`/`password` parameters or HTTP
//! Basic auth; they are never logged ([`access_log`]). This stage imports
//! no other.
//!
//! Answers: 200 `Success "<id>"`; 400 `Error "<reason>"` naming the bad
//! parameter; 403 for bad credentials, no credit or over throughput; 412
//! `Error "No route found"`; 503 with Retry-After when the store cannot
//! take it. The connection, request and parameter limits are [`limits`]'
//! and [`server`]'s.

pub mod access_log;
pub mod batch;
#[doc(hidden)]
pub mod fuzzing;
pub mod limits;
pub mod params;
pub mod rest;
pub mod scrape;
pub mod server;

pub use server::{listen, serve};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use bytes::Bytes;

use crate::config::{Credit, User};
use crate::context::Context;
use crate::store::Store;
use crate::store::now_us;
use crate::submit::{SubmitError, plan, submit_with};

use params::BadParameter;

/// Seconds a client is told to wait when the store cannot take a message.
const RETRY_AFTER_S: &str = "1";

/// The API's routes, behind the access log and the request limits.
pub fn router<S: Store>(ctx: Arc<Context<S>>) -> Router {
    Router::new()
        .route("/ping", get(|| async { "PONG" }))
        .route("/send", get(send_query::<S>).post(send_post::<S>))
        .route("/balance", get(balance::<S>))
        .route("/rate", get(rate::<S>))
        .route("/health", get(health::<S>))
        .route("/secure/send", post(rest::send::<S>))
        .route("/secure/sendbatch", post(batch::send_batch::<S>))
        .route("/secure/balance", get(rest::balance::<S>))
        .route("/secure/rate", get(rest::rate::<S>))
        .route("/metrics", get(scrape::metrics::<S>))
        .with_state(ctx.clone())
        .layer(middleware::from_fn_with_state(
            limits::InFlight::default(),
            limits::limit,
        ))
        .layer(middleware::from_fn_with_state(ctx, scrape::count::<S>))
        .layer(middleware::from_fn(access_log::log))
}

/// A request's parameters by name (Jasmin's names).
pub type Params = HashMap<String, String>;

/// GET /send: the parameters in the query string.
async fn send_query<S: Store>(
    State(ctx): State<Arc<Context<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> Response {
    send_jasmin(&ctx, peer, &headers, &p).await
}

/// POST /send: a form (Jasmin), or JSON (the HTTP-to-SMPP example).
async fn send_post<S: Store>(
    State(ctx): State<Arc<Context<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        return send_json(&ctx, peer, &headers, &body).await;
    }
    match form_params(&body) {
        Ok(p) => send_jasmin(&ctx, peer, &headers, &p).await,
        Err(reason) => Flavour::Jasmin.error(StatusCode::BAD_REQUEST, &reason),
    }
}

fn form_params(body: &[u8]) -> Result<Params, String> {
    serde_urlencoded::from_bytes(body).map_err(|_| "the form is not url-encoded".to_string())
}

/// Jasmin's /send: `Success "<id>"` or `Error "<reason>"`.
async fn send_jasmin<S: Store>(
    ctx: &Context<S>,
    peer: SocketAddr,
    headers: &HeaderMap,
    p: &Params,
) -> Response {
    let user = match authenticate(ctx, peer, headers, p).await {
        Ok(u) => u,
        Err(r) => return Flavour::Jasmin.auth_refused(&r),
    };
    send_as(ctx, &user, p, Flavour::Jasmin).await
}

/// The JSON /send of the HTTP-to-SMPP example:
/// `{"sourceAddress", "destinationAddress", "message"}` with Basic auth.
async fn send_json<S: Store>(
    ctx: &Context<S>,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Body {
        source_address: Option<String>,
        destination_address: String,
        message: String,
    }
    let user = match authenticate(ctx, peer, headers, &Params::new()).await {
        Ok(u) => u,
        Err(r) => return Flavour::Json.auth_refused(&r),
    };
    let b: Body = match serde_json::from_slice(body) {
        Ok(b) => b,
        Err(e) => {
            return Flavour::Json.error(StatusCode::BAD_REQUEST, &format!("bad JSON body: {e}"));
        }
    };
    let mut p = Params::new();
    p.insert("to".into(), b.destination_address);
    p.insert("content".into(), b.message);
    if let Some(from) = b.source_address {
        p.insert("from".into(), from);
    }
    send_as(ctx, &user, &p, Flavour::Json).await
}

/// Why a /send, or one message of a batch, was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendRefused {
    /// A parameter is missing or wrong; the reason names it.
    #[error("{0}")]
    BadParameter(#[from] BadParameter),
    /// The submit path refused it.
    #[error("{0}")]
    Submit(#[from] SubmitError),
}

impl SendRefused {
    /// The HTTP status of the refusal, and whether to add Retry-After.
    fn status(&self) -> (StatusCode, bool) {
        match self {
            SendRefused::BadParameter(_) => (StatusCode::BAD_REQUEST, false),
            SendRefused::Submit(e) => match e {
                SubmitError::Invalid(_) | SubmitError::Unstorable(_) => {
                    (StatusCode::BAD_REQUEST, false)
                }
                SubmitError::NoRoute => (StatusCode::PRECONDITION_FAILED, false),
                SubmitError::Throttled | SubmitError::NoCredit => (StatusCode::FORBIDDEN, false),
                SubmitError::QueueFull | SubmitError::Unavailable => {
                    (StatusCode::SERVICE_UNAVAILABLE, true)
                }
            },
        }
    }
}

/// /send's parameters read and checked: the parameter sizes
/// ([`limits::check_params`]), then their meaning ([`params::send`]).
fn read_send(p: &Params) -> Result<params::Send, BadParameter> {
    limits::check_params(p)?;
    params::send(p)
}

/// Read /send's parameters and take the submit path as `user`: the new
/// message's id once it is durable, or why not. Every /send flavour and
/// every message of a batch comes here.
pub async fn send_message<S: Store>(
    ctx: &Context<S>,
    user: &User,
    p: &Params,
) -> Result<String, SendRefused> {
    let send = read_send(p)?;
    Ok(submit_with(ctx, user, send.submit, &send.tags, send.callback).await?)
}

/// [`send_message`], answered in `flavour`.
async fn send_as<S: Store>(
    ctx: &Context<S>,
    user: &User,
    p: &Params,
    flavour: Flavour,
) -> Response {
    match send_message(ctx, user, p).await {
        Ok(id) => flavour.success(&id),
        Err(e) => refused(flavour, &e),
    }
}

/// GET /balance: `{"balance": 12.5, "sms_count": null}`, `null` when the
/// user's credit is unlimited.
async fn balance<S: Store>(
    State(ctx): State<Arc<Context<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> Response {
    let user = match authenticate(&ctx, peer, &headers, &p).await {
        Ok(u) => u,
        Err(r) => return Flavour::Jasmin.auth_refused(&r),
    };
    match balance_of(&ctx, &user).await {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => refused(Flavour::Jasmin, &e),
    }
}

/// What /balance and /secure/balance report for `user`.
async fn balance_of<S: Store>(
    ctx: &Context<S>,
    user: &User,
) -> Result<serde_json::Value, SendRefused> {
    let balance = match user.credit {
        Credit::Unlimited => None,
        Credit::Micro(_) => ctx
            .store
            .balance(&user.system_id)
            .await
            .map_err(|_| SubmitError::Unavailable)?,
    };
    let balance = balance.map(|micro| micro as f64 / 1_000_000.0);
    Ok(serde_json::json!({ "balance": balance, "sms_count": null }))
}

/// GET /rate?to=&content=: `{"submit_sm_count": 2, "unit_rate": 0.1}`,
/// the parts the message would be sent as and the route's price per
/// part (`null` when the user's credit is unlimited); nothing is sent or
/// charged.
async fn rate<S: Store>(
    State(ctx): State<Arc<Context<S>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> Response {
    let user = match authenticate(&ctx, peer, &headers, &p).await {
        Ok(u) => u,
        Err(r) => return Flavour::Jasmin.auth_refused(&r),
    };
    match rate_of(&ctx, &user, p) {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => refused(Flavour::Jasmin, &e),
    }
}

/// What /rate and /secure/rate report: the /send parameters, where
/// `content` may be left out (as Jasmin's /rate allows: an empty text,
/// one part).
fn rate_of<S: Store>(
    ctx: &Context<S>,
    user: &User,
    mut p: Params,
) -> Result<serde_json::Value, SendRefused> {
    if !p.contains_key("content") && !p.contains_key("hex-content") {
        p.insert("content".into(), String::new());
    }
    let send = read_send(&p)?;
    let plan = plan(ctx, user, &send.submit, &send.tags, now_us() / 1000)?;
    let unit_rate = match (user.credit, plan.route.rate) {
        (Credit::Unlimited, _) | (_, Credit::Unlimited) => None,
        (_, Credit::Micro(r)) => Some(r as f64 / 1_000_000.0),
    };
    Ok(serde_json::json!({
        "submit_sm_count": plan.checked.parts,
        "unit_rate": unit_rate,
    }))
}

/// GET /health: 200 when the store answers and a connector is bound,
/// else 503; the body says which (`store`, each connector's bound
/// sessions). Liveness is `/ping`.
async fn health<S: Store>(State(ctx): State<Arc<Context<S>>>) -> Response {
    let store_ok = ctx.store.ping().await.is_ok();
    let bound = ctx.connectors.snapshot();
    let config = ctx.config.load();
    let connectors: serde_json::Map<String, serde_json::Value> = config
        .connectors
        .keys()
        .map(|name| (name.clone(), bound.get(name).copied().unwrap_or(0).into()))
        .collect();
    let any_bound = connectors.values().any(|n| n.as_u64().unwrap_or(0) > 0);
    let ready = store_ok && any_bound;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "ready": ready,
        "store": if store_ok { "ok" } else { "unavailable" },
        "connectors": connectors,
    });
    (status, axum::Json(body)).into_response()
}

/// How an endpoint answers: Jasmin's text, the JSON of the HTTP-to-SMPP
/// example, or Jasmin's REST API (its JSON around the text answers).
#[derive(Debug, Clone, Copy)]
enum Flavour {
    Jasmin,
    Json,
    Rest,
}

impl Flavour {
    fn success(self, id: &str) -> Response {
        match self {
            Flavour::Jasmin => (StatusCode::OK, format!("Success \"{id}\"")).into_response(),
            Flavour::Json => axum::Json(serde_json::json!({ "messageId": id })).into_response(),
            Flavour::Rest => Flavour::Rest.data(rest::proxied(&format!("Success \"{id}\"")).into()),
        }
    }

    fn error(self, status: StatusCode, reason: &str) -> Response {
        match self {
            Flavour::Jasmin => (status, format!("Error \"{reason}\"")).into_response(),
            Flavour::Json => {
                (status, axum::Json(serde_json::json!({ "error": reason }))).into_response()
            }
            Flavour::Rest => {
                let message = rest::proxied(&format!("Error \"{reason}\""));
                (
                    status,
                    axum::Json(serde_json::json!({ "message": message })),
                )
                    .into_response()
            }
        }
    }

    /// A JSON answer: as it is, or in Jasmin REST's `{"data": ...}`.
    fn data(self, value: serde_json::Value) -> Response {
        match self {
            Flavour::Jasmin | Flavour::Json => axum::Json(value).into_response(),
            Flavour::Rest => axum::Json(serde_json::json!({ "data": value })).into_response(),
        }
    }

    fn auth_refused(self, r: &AuthRefused) -> Response {
        match (self, r) {
            (Flavour::Rest, AuthRefused::Missing) => rest::unauthorized(),
            _ => self.error(r.status(), r.reason()),
        }
    }
}

/// A refused send's answer: its status, its reason, and Retry-After when
/// it may succeed later.
fn refused(flavour: Flavour, e: &SendRefused) -> Response {
    let (status, retry) = e.status();
    let r = flavour.error(status, &e.to_string());
    if retry { with_retry_after(r) } else { r }
}

fn with_retry_after(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from_static(RETRY_AFTER_S),
    );
    r
}

/// Why credentials were not accepted.
enum AuthRefused {
    Missing,
    Refused,
}

impl AuthRefused {
    fn status(&self) -> StatusCode {
        match self {
            AuthRefused::Missing => StatusCode::BAD_REQUEST,
            AuthRefused::Refused => StatusCode::FORBIDDEN,
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            AuthRefused::Missing => "username and password are missing",
            AuthRefused::Refused => "Authentication failure",
        }
    }
}

/// The user of `username`/`password` parameters, else of HTTP Basic
/// auth, checked as a bind's credentials are; the access log is told who
/// it is.
async fn authenticate<S: Store>(
    ctx: &Context<S>,
    peer: SocketAddr,
    headers: &HeaderMap,
    p: &Params,
) -> Result<Arc<User>, AuthRefused> {
    let (username, password) = match (p.get("username"), p.get("password")) {
        (Some(u), Some(pw)) => (u.clone(), pw.clone()),
        _ => basic_auth(headers).ok_or(AuthRefused::Missing)?,
    };
    let user = ctx
        .accounts
        .authenticate(
            username.as_bytes(),
            password.as_bytes(),
            peer.ip(),
            Instant::now(),
        )
        .await
        .map_err(|_| AuthRefused::Refused)?;
    access_log::record_user(&user.system_id);
    Ok(user)
}

/// `Authorization: Basic base64(user:password)`.
fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}
