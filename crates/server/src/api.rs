//! The HTTP API under `/api`: sign-in (`auth`), and the Web API under
//! `/api/data/v9.2/` (Dataverse's conventions). Every route but `POST /api/auth/login`
//! needs a signed-in user (401 otherwise); unknown `/api` paths are JSON 404s in
//! Dataverse's error shape, never the console's `index.html`.

use axum::http::{header, StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;

use crate::auth;
use crate::error::ApiError;
use crate::state::AppState;

/// The `/api` router (nested under `/api` by `serve::app`).
pub fn router(state: AppState) -> Router {
    // Every route but sign-in needs a signed-in user (`layer`, not `route_layer`:
    // unknown paths need a session too, so the API's shape is not revealed to anyone
    // signed out), then the service protection limits (which need the user).
    let signed_in = |r: Router<AppState>| {
        r.layer(middleware::from_fn_with_state(
            state.clone(),
            crate::throttle::limit,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_user,
        ))
    };
    // The service document, `$metadata`, WhoAmI, EntityDefinitions and the entity sets
    // of core's model (`webapi`, which reads bodies up to its own limits), open to
    // other origins with a bearer token, as Dataverse's Web API is.
    let data = signed_in(
        Router::new()
            .route("/data/v9.2", any(crate::webapi::entity))
            .route("/data/v9.2/", any(crate::webapi::entity))
            .route("/data/v9.2/{*path}", any(crate::webapi::entity)),
    )
    .layer(cors());
    // The local organization's own sign-in: same origin only (no CORS).
    let account = signed_in(
        Router::new()
            .route("/auth/logout", post(auth::logout))
            .route("/auth/me", get(auth::me))
            .fallback(not_found),
    );
    Router::new()
        .route(
            "/auth/login",
            post(auth::login).fallback(|| async {
                ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    crate::webapi::errcodes::UNSUPPORTED_OPERATION,
                    "Sign in with POST /api/auth/login and a JSON body \
                     {\"username\", \"password\"}.",
                )
            }),
        )
        .merge(data)
        .merge(account)
        .layer(middleware::map_response(errors_in_dataverse_shape))
        .with_state(state)
}

/// CORS as Dataverse's Web API answers it for single-page applications: any origin,
/// preflights for the headers an OData client sends (cached an hour), the headers it
/// must read exposed, and never `Access-Control-Allow-Credentials`: a browser sends
/// no cookie with these requests, and a cookie from another origin is refused
/// (`boundary::check_origin`).
fn cors() -> tower_http::cors::CorsLayer {
    use axum::http::{HeaderName, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let h = HeaderName::from_static;
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::PUT,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            h("odata-version"),
            h("odata-maxversion"),
            h("prefer"),
        ])
        .expose_headers([
            h("odata-entityid"),
            header::ETAG,
            header::RETRY_AFTER,
            header::LOCATION,
            h("preference-applied"),
            h("odata-version"),
        ])
        .max_age(std::time::Duration::from_secs(3600))
}

/// axum answers a body over the limit with a plain-text 413 and a wrong method with an
/// empty 405; the Web API answers every error in Dataverse's shape.
async fn errors_in_dataverse_shape(resp: Response) -> Response {
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("json"));
    if json {
        return resp;
    }
    match resp.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            crate::error::codes::INVALID_ARGUMENT,
            "The request body is larger than this resource accepts.",
        )
        .into_response(),
        // axum adds the `Allow` header after this layer: the message cannot name it.
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            crate::webapi::errcodes::UNSUPPORTED_OPERATION,
            "The HTTP method is not supported on this resource (the Allow header lists \
             those that are).",
        )
        .into_response(),
        _ => resp,
    }
}

async fn not_found(uri: Uri) -> ApiError {
    let segment = uri.path().rsplit('/').find(|s| !s.is_empty()).unwrap_or("");
    ApiError::not_found(format!("Resource not found for the segment '{segment}'."))
}
