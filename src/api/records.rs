//! Entity-record calls beyond `get_json`: `POST` returning the record, `DELETE` of one
//! record and `PATCH` with `If-Match`; `same_origin` for `@odata.nextLink`s.

use gloo_net::http::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{read_json, request, send, ApiResult};

/// `DELETE path` (204 expected; the body, if any, is ignored).
pub async fn delete(path: &str) -> ApiResult<()> {
    send(|| request(Method::DELETE, path).build())
        .await
        .map(drop)
}

/// `PATCH path` with a JSON body and `If-Match: <etag>` (`None`: no check). A stale
/// ETag is a 412 [`ApiError`](super::ApiError).
pub async fn patch_json<B: Serialize + ?Sized>(
    path: &str,
    body: &B,
    if_match: Option<&str>,
) -> ApiResult<()> {
    send(|| {
        let builder = request(Method::PATCH, path);
        match if_match {
            Some(etag) => builder.header("If-Match", etag),
            None => builder,
        }
        .json(body)
    })
    .await
    .map(drop)
}

/// `POST path` (a collection) with `Prefer: return=representation`: the created record.
pub async fn create<B, T>(path: &str, body: &B) -> ApiResult<T>
where
    B: Serialize + ?Sized,
    T: DeserializeOwned,
{
    let build = || {
        request(Method::POST, path)
            .header("Prefer", "return=representation")
            .json(body)
    };
    read_json(send(build).await?).await
}

/// A `nextLink` made relative to this origin (the server writes absolute URLs).
pub fn same_origin(link: &str) -> String {
    match link.find("/api/") {
        Some(i) => link[i..].to_string(),
        None => link.to_string(),
    }
}
