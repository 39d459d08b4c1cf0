//! `GET /metrics` (Prometheus' text format, [`crate::metrics`]) and the
//! request counter `tern_http_requests_total{endpoint,code}`.
//!
//! The endpoint label is the path template of the route that served the
//! request (axum's [`MatchedPath`]: `/send`, `/secure/send`, ...), `other`
//! when no route did, so a request to a random path adds no series. The
//! scrape asks for no credentials: bind `[http-api]` to loopback or a
//! private interface (docs/metrics.md).

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::context::Context;
use crate::metrics::{self, labels};
use crate::store::Store;

/// GET /metrics: the state gauges read now, then every family.
pub async fn metrics<S: Store>(State(ctx): State<Arc<Context<S>>>) -> Response {
    let config = ctx.config.load_full();
    let bound = ctx.connectors.snapshot();
    metrics::sample::sample(&ctx.metrics, &ctx.store, &config, &bound).await;
    ctx.metrics
        .password_verifications(ctx.accounts.password_verifications());
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        ctx.metrics.render(),
    )
        .into_response()
}

/// Count each request by its route and answer code.
pub async fn count<S: Store>(
    State(ctx): State<Arc<Context<S>>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let response = next.run(req).await;
    ctx.metrics.http_request(
        labels::endpoint(route.as_ref().map(MatchedPath::as_str)),
        response.status().as_str(),
    );
    response
}
