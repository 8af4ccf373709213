//! `/signin`: user name and password against the local organization
//! (`POST /api/auth/login`). On success the session context learns the user and the
//! page goes back to `?next=` (default `/mailboxes`); a signed-in visitor goes there
//! at once.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use crate::api::{self, ApiError};
use crate::session::{after_sign_in, use_session, Auth, Status};

#[component]
pub fn SignIn() -> impl IntoView {
    let session = use_session();
    let query = use_query_map();
    let next = Memo::new(move |_| after_sign_in(query.read().get("next").as_deref()));

    // Signed in (just now, or before coming here): go back where the user came from.
    let navigate = use_navigate();
    Effect::new(move |_| {
        if session.status() == Status::SignedIn {
            navigate(
                &next.get_untracked(),
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
    });

    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let submit = Action::new_local(move |(user, pass): &(String, String)| {
        let (user, pass) = (user.clone(), pass.clone());
        async move {
            let signed_in = async {
                api::login(&user, &pass).await?;
                api::me().await?.ok_or_else(|| ApiError {
                    status: 401,
                    code: None,
                    message: "Signed in, but the browser did not keep the session. \
                              Allow cookies for this site and try again."
                        .to_string(),
                })
            }
            .await;
            match signed_in {
                Ok(user) => {
                    session.signed_in(user);
                    Ok(())
                }
                Err(e) => {
                    password.set(String::new());
                    Err(e)
                }
            }
        }
    });
    let pending = submit.pending();
    let error = move || submit.value().get().and_then(Result::err);
    let unavailable = move || match session.auth() {
        Auth::Unavailable(reason) => Some(reason),
        _ => None,
    };

    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        submit.dispatch((
            username.get_untracked().trim().to_string(),
            password.get_untracked(),
        ));
    };

    view! {
        <section class="page signin-page">
            <div class="signin-panel">
                <h1>"Sign in"</h1>
                <p class="muted signin-lead">
                    "Sign in to the local organization to work with mailboxes, email server profiles, alerts and settings."
                </p>
                <form class="card signin-card" on:submit=on_submit>
                    <div class="card-body">
                        {move || {
                            unavailable()
                                .map(|reason| {
                                    view! {
                                        <div class="callout callout-warning" role="status">
                                            <div class="callout-title">
                                                "The organization is not reachable"
                                            </div>
                                            {reason}
                                        </div>
                                    }
                                })
                        }}
                        {move || {
                            error()
                                .map(|e| {
                                    view! {
                                        <div
                                            class="callout callout-error signin-error"
                                            role="alert"
                                            data-code=e.code.clone().unwrap_or_default()
                                        >
                                            {e.message}
                                        </div>
                                    }
                                })
                        }}
                        <div class="field">
                            <label for="signin-username">"User name"</label>
                            <input
                                id="signin-username"
                                class="input"
                                type="text"
                                name="username"
                                autocomplete="username"
                                autocapitalize="none"
                                spellcheck="false"
                                required
                                autofocus
                                bind:value=username
                            />
                        </div>
                        <div class="field">
                            <label for="signin-password">"Password"</label>
                            <input
                                id="signin-password"
                                class="input"
                                type="password"
                                name="password"
                                autocomplete="current-password"
                                required
                                bind:value=password
                            />
                        </div>
                        <button
                            type="submit"
                            class="btn btn-primary signin-submit"
                            disabled=move || pending.get()
                        >
                            {move || if pending.get() { "Signing in…" } else { "Sign in" }}
                        </button>
                    </div>
                </form>
                <p class="small muted signin-aside">
                    "The "
                    <A href="/analyzer">"Log Analyzer"</A>
                    " works without signing in: logs are read in this browser and never uploaded."
                </p>
            </div>
        </section>
    }
}
