//! `/signin`: choose an organization and sign in to it.
//!
//! * **This server's organization** (the local one): user name and password
//!   (`POST /api/auth/login`).
//! * **Dynamics 365 environments** saved in this browser: "Sign in with Microsoft" sends
//!   the browser to Microsoft Entra ID (`org::flow::begin`), which comes back here with a
//!   code (or an error, explained with what to do); an environment is added with its
//!   URL, tenant and application (client) ID, and the page shows the exact redirect URI
//!   to register for it.
//! * A link's `?org=<url>` selects a saved environment; one that is not saved is only
//!   offered for adding: nothing is sent to it before the user confirms.
//!
//! On success the session context learns the user and the page goes back to `?next=`
//! (default `/mailboxes`); a signed-in visitor goes there at once.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use crate::api::{self, ApiError};
use crate::org::current::{self, Org};
use crate::org::{flow, link_target, Environment, LinkTarget, SignInError, DEFAULT_TENANT};
use crate::session::{after_sign_in, use_session, Auth, Status};

#[component]
pub fn SignIn() -> impl IntoView {
    let session = use_session();
    let query = use_query_map();
    let next = Memo::new(move |_| after_sign_in(query.read().get("next").as_deref()));
    let sign_in_error = RwSignal::new(flow::take_error());

    // Back from the identity provider: finish (the code leaves the address bar first).
    let navigate = use_navigate();
    {
        let navigate = navigate.clone();
        spawn_local(async move {
            match flow::complete().await {
                None => {}
                Some(Ok(return_to)) => {
                    session.refresh();
                    navigate(
                        &return_to,
                        NavigateOptions {
                            replace: true,
                            ..Default::default()
                        },
                    );
                }
                Some(Err(e)) => sign_in_error.set(Some(e)),
            }
        });
    }

    // Signed in (just now, or before coming here): go back where the user came from.
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

    // A link naming an environment: a saved one is selected; another is offered only.
    let linked = Memo::new(move |_| {
        let q = query.read();
        let org = q.get("org")?;
        let link = format!("org={}", crate::api::encode(&org));
        Some((
            link_target(&link, &current::saved()),
            q.get("tenant"),
            q.get("client_id"),
        ))
    });
    Effect::new(move |_| {
        if let Some((LinkTarget::Saved(i), ..)) = linked.get() {
            if let Some(env) = current::saved().into_iter().nth(i) {
                if current::current() != Org::Dataverse(env.clone()) {
                    current::select(Org::Dataverse(env));
                    session.refresh();
                }
            }
        }
    });

    view! {
        <section class="page signin-page">
            <div class="signin-panel">
                <h1>"Sign in"</h1>
                <p class="muted signin-lead">
                    "Choose the organization to work with: this server's local organization, or a Dynamics 365 environment."
                </p>
                {move || sign_in_error.get().map(|e| view! { <SignInProblem error=e /> })}
                {move || {
                    linked
                        .get()
                        .and_then(|(target, tenant, client)| match target {
                            LinkTarget::Unknown(url) => Some(
                                view! { <AddEnvironment url=url tenant=tenant client_id=client linked=true next=next /> }
                                    .into_any(),
                            ),
                            LinkTarget::Invalid(message) => Some(
                                view! {
                                    <div class="callout callout-error" role="alert">
                                        "The link names an environment that cannot be used: "
                                        {message}
                                    </div>
                                }
                                    .into_any(),
                            ),
                            _ => None,
                        })
                }}
                <Environments next=next error=sign_in_error />
                <LocalSignIn />
                <p class="small muted signin-aside">
                    "The "
                    <A href="/analyzer">"Log Analyzer"</A>
                    " works without signing in: logs are read in this browser and never uploaded."
                </p>
            </div>
        </section>
    }
}

/// A sign-in that failed at the identity provider or after it: what happened, what to
/// do, and the redirect URI to register.
#[component]
fn SignInProblem(error: SignInError) -> impl IntoView {
    view! {
        <div class="callout callout-error signin-problem" role="alert" data-code=error.code.clone()>
            <div class="callout-title">"Sign-in did not complete"</div>
            <p>{error.message}</p>
            <p>{error.hint}</p>
            <p class="small muted">
                "Redirect URI of this console: " <code>{flow::redirect_uri()}</code>
                {(!error.code.is_empty()).then(|| format!(" (code {})", error.code))}
            </p>
        </div>
    }
}

/// The saved Dynamics 365 environments, each with its sign-in, and adding one.
#[component]
fn Environments(next: Memo<String>, error: RwSignal<Option<SignInError>>) -> impl IntoView {
    let saved = RwSignal::new(current::saved());
    let adding = RwSignal::new(false);
    let sign_in = move |env: Environment| {
        spawn_local(async move {
            if let Err(e) = flow::begin(&env, &next.get_untracked()).await {
                error.set(Some(e));
            }
        });
    };
    view! {
        <div class="card signin-card">
            <div class="card-body">
                <h2 class="card-title">"Dynamics 365 environments"</h2>
                <div class="signin-envs">
                    {move || {
                        let list = saved.get();
                        if list.is_empty() {
                            return view! {
                                <p class="muted small">
                                    "No environment is saved in this browser yet."
                                </p>
                            }
                                .into_any();
                        }
                        list.into_iter()
                            .map(|env| {
                                let url = env.url.clone();
                                let to_remove = env.url.clone();
                                let go = env.clone();
                                view! {
                                    <div class="signin-env" data-url=url.clone()>
                                        <span class="mono truncate" title=url.clone()>
                                            {env.host().to_string()}
                                        </span>
                                        <span class="page-actions">
                                            <button
                                                type="button"
                                                class="btn btn-primary btn-sm signin-env-go"
                                                on:click=move |_| sign_in(go.clone())
                                            >
                                                "Sign in with Microsoft"
                                            </button>
                                            <button
                                                type="button"
                                                class="btn btn-sm"
                                                aria-label=format!("Remove {url}")
                                                on:click=move |_| {
                                                    current::remove(&to_remove);
                                                    saved.set(current::saved());
                                                }
                                            >
                                                "Remove"
                                            </button>
                                        </span>
                                    </div>
                                }
                            })
                            .collect_view()
                            .into_any()
                    }}
                </div>
                <Show
                    when=move || adding.get()
                    fallback=move || {
                        view! {
                            <button type="button" class="btn btn-sm" on:click=move |_| adding.set(true)>
                                "Add an environment"
                            </button>
                        }
                    }
                >
                    <AddEnvironment url=String::new() tenant=None client_id=None linked=false next=next />
                </Show>
            </div>
        </div>
    }
}

/// Adds an environment (URL, tenant, application ID, and optionally another OpenID
/// Connect authority) and signs in to it. From a link, it says that nothing was sent
/// to the environment yet.
#[component]
fn AddEnvironment(
    url: String,
    tenant: Option<String>,
    client_id: Option<String>,
    linked: bool,
    next: Memo<String>,
) -> impl IntoView {
    let url = RwSignal::new(url);
    let tenant = RwSignal::new(tenant.unwrap_or_else(|| DEFAULT_TENANT.to_string()));
    let client_id = RwSignal::new(client_id.unwrap_or_default());
    let authority = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let authority = authority.get_untracked();
        let env = Environment::new(
            &url.get_untracked(),
            &tenant.get_untracked(),
            &client_id.get_untracked(),
            Some(authority.trim()).filter(|a| !a.is_empty()),
        );
        match env {
            Err(m) => problem.set(Some(m)),
            Ok(env) => {
                problem.set(None);
                current::save(env.clone());
                spawn_local(async move {
                    if let Err(e) = flow::begin(&env, &next.get_untracked()).await {
                        problem.set(Some(format!("{} {}", e.message, e.hint)));
                    }
                });
            }
        }
    };
    view! {
        <form class="signin-add" on:submit=on_submit>
            {linked
                .then(|| {
                    view! {
                        <div class="callout callout-warning signin-confirm" role="status">
                            <div class="callout-title">"A link names an environment you have not used here"</div>
                            "Nothing has been sent to it. Check the address, then add it and sign in, or ignore it."
                        </div>
                    }
                })}
            {move || problem.get().map(|m| view! { <div class="callout callout-error" role="alert">{m}</div> })}
            <div class="field">
                <label for="env-url">"Environment URL"</label>
                <input id="env-url" class="input" type="url" placeholder="https://contoso.crm.dynamics.com" required bind:value=url />
            </div>
            <div class="field">
                <label for="env-tenant">"Tenant (directory) ID or domain"</label>
                <input id="env-tenant" class="input" type="text" bind:value=tenant />
            </div>
            <div class="field">
                <label for="env-client">"Application (client) ID"</label>
                <input id="env-client" class="input mono" type="text" required bind:value=client_id />
            </div>
            <details class="field">
                <summary>"Another OpenID Connect authority (optional)"</summary>
                <label for="env-authority">"Authority"</label>
                <input id="env-authority" class="input" type="url" placeholder="https://login.microsoftonline.com/<tenant>/v2.0" bind:value=authority />
            </details>
            <p class="small muted">
                "Register this console in Microsoft Entra ID as a single-page application with the redirect URI "
                <code class="signin-redirect-uri">{flow::redirect_uri()}</code>
                " and the Dynamics CRM user_impersonation permission (README: \"Manage your Dynamics 365 organization\")."
            </p>
            <button type="submit" class="btn btn-primary">
                {if linked { "Add and sign in" } else { "Save and sign in" }}
            </button>
        </form>
    }
}

/// The local organization's user name and password.
#[component]
fn LocalSignIn() -> impl IntoView {
    let session = use_session();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let submit = Action::new_local(move |(user, pass): &(String, String)| {
        let (user, pass) = (user.clone(), pass.clone());
        async move {
            current::select(Org::Local);
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
        Auth::Unavailable(reason) if current::current() == Org::Local => Some(reason),
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
        <form class="card signin-card" on:submit=on_submit>
            <div class="card-body">
                <h2 class="card-title">"This server's organization"</h2>
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
    }
}
