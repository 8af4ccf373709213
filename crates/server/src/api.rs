//! The HTTP API under `/api`: sign-in (`auth`), and the Web API under
//! `/api/data/v9.2/` (Dataverse's conventions). Every route but `POST /api/auth/login`
//! needs a signed-in user (401 otherwise); unknown `/api` paths are JSON 404s in
//! Dataverse's error shape, never the console's `index.html`.

use axum::http::{header, StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::auth::{self, CurrentUser};
use crate::error::ApiError;
use crate::state::AppState;

/// The `/api` router (nested under `/api` by `serve::app`).
pub fn router(state: AppState) -> Router {
    let signed_in = Router::new()
        .route("/auth/logout", post(auth::logout))
        .route("/auth/me", get(auth::me))
        .route("/data/v9.2/WhoAmI", get(who_am_i))
        // The entity sets of core's model (`webapi`, which reads bodies up to its own
        // limits); WhoAmI above wins over it.
        .route("/data/v9.2/{*path}", any(crate::webapi::entity))
        .fallback(not_found)
        // Service protection limits per user: inside `require_user`, which knows the user.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::throttle::limit,
        ))
        // `layer` (not `route_layer`): unknown paths need a session too, so the API's
        // shape is not revealed to anyone signed out.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_user,
        ));
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
        .merge(signed_in)
        .layer(middleware::map_response(errors_in_dataverse_shape))
        .with_state(state)
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

/// `GET /api/data/v9.2/WhoAmI`, as Dataverse answers it.
async fn who_am_i(
    axum::extract::State(state): axum::extract::State<AppState>,
    user: CurrentUser,
) -> Result<Response, ApiError> {
    let org: Option<String> = state
        .store
        .call(|c| {
            use rusqlite::OptionalExtension;
            Ok(
                c.query_row("SELECT organizationid FROM organization LIMIT 1", [], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
        .await?;
    let body = json!({
        "@odata.context": "$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
        "BusinessUnitId": BUSINESS_UNIT_ID,
        "UserId": user.0.systemuserid,
        "OrganizationId": org,
    });
    Ok(([("OData-Version", "4.0")], Json(body)).into_response())
}

/// The local organization has one business unit.
pub const BUSINESS_UNIT_ID: &str = "00000000-0000-4000-8000-0000000000b1";
