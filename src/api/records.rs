//! Entity-record calls beyond `get_json`: `DELETE` of one record and `PATCH` with
//! `If-Match`; `same_origin` for `@odata.nextLink`s.

use gloo_net::http::Method;
use serde::Serialize;

use super::{request, send, ApiResult};

/// `DELETE path` (204 expected; the body, if any, is ignored).
pub async fn delete(path: &str) -> ApiResult<()> {
    send(request(Method::DELETE, path).build()).await.map(drop)
}

/// `PATCH path` with a JSON body and `If-Match: <etag>` (`None`: no check). A stale
/// ETag is a 412 [`ApiError`](super::ApiError).
pub async fn patch_json<B: Serialize + ?Sized>(
    path: &str,
    body: &B,
    if_match: Option<&str>,
) -> ApiResult<()> {
    let mut builder = request(Method::PATCH, path);
    if let Some(etag) = if_match {
        builder = builder.header("If-Match", etag);
    }
    send(builder.json(body)).await.map(drop)
}

/// A `nextLink` made relative to this origin (the server writes absolute URLs).
pub fn same_origin(link: &str) -> String {
    match link.find("/api/") {
        Some(i) => link[i..].to_string(),
        None => link.to_string(),
    }
}
