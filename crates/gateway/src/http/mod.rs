//! The HTTP API on `[http-api] bind/port` (shared/DESIGN.md, "HTTP API"):
//! Jasmin's `/send` (GET query or POST form) answered as Jasmin does, the
//! JSON `POST /send` of the HTTP-to-SMPP example (Basic auth →
//! `{"messageId"}`), `/balance`, `/rate`, `/ping` (liveness) and
//! `/health` (readiness: the store answers and a connector is bound).
//!
//! A /send takes the one submit path the SMPP front end takes
//! ([`crate::submit`]): the same credentials check and cool-down
//! ([`crate::accounts::Accounts::authenticate`], counted against the
//! client's IP as a bind is), throughput shared with the user's binds,
//! credit, validation, routing (with the request's `tags`) and the store
//! before the answer; a message sent here is queried over SMPP like any.
//! Credentials come as `username`/`password` parameters or HTTP Basic
//! auth; they are never logged. This stage imports no other.
//!
//! Answers: 200 `Success "<id>"`; 400 `Error "<reason>"` naming the bad
//! parameter; 403 for bad credentials, no credit or over throughput; 412
//! `Error "No route found"`; 503 with Retry-After when the store cannot
//! take it. Bodies are capped at [`BODY_MAX`].

pub mod params;

use std::collections::HashMap;
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use bytes::Bytes;
use tokio::net::TcpListener;
use tracing::{Instrument, info, info_span};

use crate::config::{Config, Credit, User};
use crate::context::Context;
use crate::store::Store;
use crate::store::now_us;
use crate::submit::{SubmitError, plan, submit_with};

/// The largest request body taken (a /send is a few hundred bytes).
pub const BODY_MAX: usize = 64 * 1024;

/// Seconds a client is told to wait when the store cannot take a message.
const RETRY_AFTER_S: &str = "1";

/// Bind a listener for the configured HTTP address.
pub async fn listen(config: &Config) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::new(config.http_api.bind, config.http_api.port)).await
}

/// Serve the API until the context's front-end shutdown; requests in
/// progress are finished first.
pub async fn serve<S: Store>(ctx: Arc<Context<S>>, listener: TcpListener) {
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "HTTP API listening");
    }
    let mut shutdown = ctx.shutdown.front_end();
    let app = router(ctx).into_make_service_with_connect_info::<SocketAddr>();
    let stop = async move {
        while !*shutdown.borrow() {
            if shutdown.changed().await.is_err() {
                return;
            }
        }
    };
    let served = axum::serve(listener, app).with_graceful_shutdown(stop);
    if let Err(e) = served
        .into_future()
        .instrument(info_span!("http_api"))
        .await
    {
        tracing::warn!(error = %e, "HTTP API stopped");
    }
}

/// The API's routes.
pub fn router<S: Store>(ctx: Arc<Context<S>>) -> Router {
    Router::new()
        .route("/ping", get(|| async { "PONG" }))
        .route("/send", get(send_query::<S>).post(send_post::<S>))
        .route("/balance", get(balance::<S>))
        .route("/rate", get(rate::<S>))
        .route("/health", get(health::<S>))
        .layer(DefaultBodyLimit::max(BODY_MAX))
        .with_state(ctx)
}

type Params = HashMap<String, String>;

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
        Err(r) => return Flavour::Jasmin.error(r.status(), r.reason()),
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
        Err(r) => return Flavour::Json.error(r.status(), r.reason()),
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

/// Read /send's parameters, take the submit path, answer in `flavour`.
async fn send_as<S: Store>(
    ctx: &Context<S>,
    user: &User,
    p: &Params,
    flavour: Flavour,
) -> Response {
    let send = match params::send(p) {
        Ok(s) => s,
        Err(e) => return flavour.error(StatusCode::BAD_REQUEST, &e.0),
    };
    match submit_with(ctx, user, send.submit, &send.tags, send.callback).await {
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
        Err(r) => return Flavour::Jasmin.error(r.status(), r.reason()),
    };
    let balance = match user.credit {
        Credit::Unlimited => None,
        Credit::Micro(_) => match ctx.store.balance(&user.system_id).await {
            Ok(b) => b,
            Err(_) => {
                let r = Flavour::Jasmin.error(StatusCode::SERVICE_UNAVAILABLE, "store unavailable");
                return with_retry_after(r);
            }
        },
    };
    let balance = balance.map(|micro| micro as f64 / 1_000_000.0);
    axum::Json(serde_json::json!({ "balance": balance, "sms_count": null })).into_response()
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
        Err(r) => return Flavour::Jasmin.error(r.status(), r.reason()),
    };
    let send = match params::send(&p) {
        Ok(s) => s,
        Err(e) => return Flavour::Jasmin.error(StatusCode::BAD_REQUEST, &e.0),
    };
    match plan(&ctx, &user, &send.submit, &send.tags, now_us() / 1000) {
        Ok(plan) => {
            let unit_rate = match (user.credit, plan.route.rate) {
                (Credit::Unlimited, _) | (_, Credit::Unlimited) => None,
                (_, Credit::Micro(r)) => Some(r as f64 / 1_000_000.0),
            };
            axum::Json(serde_json::json!({
                "submit_sm_count": plan.checked.parts,
                "unit_rate": unit_rate,
            }))
            .into_response()
        }
        Err(e) => refused(Flavour::Jasmin, &e),
    }
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

/// The HTTP status of a refused submit, and whether to add Retry-After.
fn refusal_status(e: &SubmitError) -> (StatusCode, bool) {
    match e {
        SubmitError::Invalid(_) | SubmitError::Unstorable(_) => (StatusCode::BAD_REQUEST, false),
        SubmitError::NoRoute => (StatusCode::PRECONDITION_FAILED, false),
        SubmitError::Throttled | SubmitError::NoCredit => (StatusCode::FORBIDDEN, false),
        SubmitError::QueueFull | SubmitError::Unavailable => {
            (StatusCode::SERVICE_UNAVAILABLE, true)
        }
    }
}

/// How a /send answers: Jasmin's text, or the JSON of the HTTP-to-SMPP
/// example.
#[derive(Debug, Clone, Copy)]
enum Flavour {
    Jasmin,
    Json,
}

impl Flavour {
    fn success(self, id: &str) -> Response {
        match self {
            Flavour::Jasmin => (StatusCode::OK, format!("Success \"{id}\"")).into_response(),
            Flavour::Json => axum::Json(serde_json::json!({ "messageId": id })).into_response(),
        }
    }

    fn error(self, status: StatusCode, reason: &str) -> Response {
        match self {
            Flavour::Jasmin => (status, format!("Error \"{reason}\"")).into_response(),
            Flavour::Json => {
                (status, axum::Json(serde_json::json!({ "error": reason }))).into_response()
            }
        }
    }
}

/// A refused submit's answer: its status, its reason, and Retry-After
/// when it may succeed later.
fn refused(flavour: Flavour, e: &SubmitError) -> Response {
    let (status, retry) = refusal_status(e);
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
/// auth, checked as a bind's credentials are.
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
    ctx.accounts
        .authenticate(
            username.as_bytes(),
            password.as_bytes(),
            peer.ip(),
            Instant::now(),
        )
        .await
        .map_err(|_| AuthRefused::Refused)
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
