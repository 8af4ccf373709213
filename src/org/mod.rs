// The environment and sign-in pages will use these; until they do, much of it is unused.
#![allow(dead_code)]

//! Real Dataverse environments: which ones the console knows, and signing in to them.
//!
//! Sign-in is the OAuth 2.0 authorization code flow with PKCE (S256) against Microsoft
//! Entra ID v2.0 (or the OpenID Connect issuer an environment names), done by the console
//! itself, not MSAL.js. Everything here is pure: the caller takes randomness from the
//! browser's `crypto.getRandomValues`, does the fetches and touches storage.
//!
//! The flow, and who keeps what:
//! 1. The saved environments ([`Environment`]: URL, tenant, client ID, optional authority)
//!    live in localStorage as JSON ([`save_json`] / [`parse_saved`]); they hold no secret.
//!    A link's `?org=<url>` picks one ([`link_target`]); an environment that is not saved
//!    is only shown for confirmation: nothing, not even the sign-in, goes there first.
//! 2. Signing in: fetch [`discovery_url`] of [`Environment::authority`] and read it with
//!    [`parse_discovery`]; make a [`Pending`] (PKCE verifier, `state`, `nonce`, the page
//!    to return to) and keep it in **sessionStorage** (this tab only, gone when it
//!    closes) across the redirect; send the browser to [`authorize_url`] with the
//!    challenge and [`Environment::scope`].
//! 3. Back on the console: [`parse_redirect`] reads the query, and the page calls
//!    `history.replaceState` with [`strip_redirect_params`] at once, so the code never
//!    stays in the address bar or history. [`check_state`] must pass; the code is then
//!    redeemed with [`token_request_body`] (a CORS request from the page, which Entra
//!    allows only for "Single-page application" redirect URIs; a failure without a
//!    readable answer is [`unreadable_token_answer`]) and read by
//!    [`parse_token_response_for`]. The ID token is only read for its nonce
//!    ([`id_token_nonce`] / [`check_id_token`]) and the user's name
//!    ([`id_token_claim`]); the access token is never parsed. The `Pending` is removed.
//! 4. The access token is kept **in memory only**; the refresh token at most in
//!    sessionStorage (Entra ID gives single-page apps refresh tokens that last 24 hours),
//!    never in localStorage. [`renew_at`] says when to renew with
//!    [`refresh_request_body`].
//! 5. Tokens are only ever sent to the environment they were issued for: every request
//!    URL is checked with [`Environment::owns`] (same https origin) before the
//!    `Authorization` header is added.
//!
//! Errors come back as [`SignInError`]s that say what happened and what to do
//! ([`explain`] maps Entra ID's AADSTS codes).

pub mod current;
mod environment;
pub mod flow;
// The OAuth 2.0 client and URL helpers are core's: the server signs mailboxes in
// with the same code.
use mailsync_core::oauth::client as oauth;
use mailsync_core::url;

// Unused until the pages import them (see the allow at the top).
#[allow(unused_imports)]
pub use environment::*;
#[allow(unused_imports)]
pub use oauth::*;
