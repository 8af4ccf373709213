//! "Sign in to Gmail" (or to Microsoft Entra ID) on the mailbox form: for a mailbox
//! whose email server profile signs each mailbox in with OAuth ("Gmail OAuth",
//! "Azure AD OAuth"), whether it is signed in, and the button that starts the sign-in
//! (`mailsync_BeginOAuthSignIn`, then the browser goes to the provider and comes back
//! to this page with the outcome in `?oauth=signed-in` or `?oauth_error=`).

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;
use mailsync_core::oauth::{self, Provider};
use serde_json::Value;

use crate::api;
use crate::components::ErrorNote;

/// The provider the profile signs its mailboxes in with, if it does.
async fn provider_of(profile: &str) -> Option<Provider> {
    let path = format!(
        "/api/data/v9.2/emailserverprofiles({profile})?$select=incomingcredentialretrieval,\
         outgoingcredentialretrieval,usesamesettingsforoutgoingconnections"
    );
    let p: Value = api::get_json(&path).await.ok()?;
    let retrieval = |k: &str| p.get(k).and_then(Value::as_i64).map(|v| v as i32);
    let incoming = retrieval("incomingcredentialretrieval");
    let outgoing = retrieval("outgoingcredentialretrieval");
    let same = p.get("usesamesettingsforoutgoingconnections") == Some(&Value::Bool(true));
    let r = if oauth::is_per_mailbox(incoming) {
        incoming
    } else if !same {
        outgoing
    } else {
        None
    };
    Provider::of(r, None)
}

#[component]
pub fn OAuthSignIn(
    /// The mailbox's id.
    id: Memo<String>,
    /// Its saved server profile's id.
    profile: Signal<Option<String>>,
    /// `isoauthrefreshtokenset`.
    signed_in: Signal<bool>,
    /// `oauthtokenexpireson`.
    renewed_until: Signal<Option<mailsync_core::Timestamp>>,
) -> impl IntoView {
    let provider = LocalResource::new(move || {
        let p = profile.get();
        async move {
            match p {
                Some(p) => provider_of(&p).await,
                None => None,
            }
        }
    });
    let query = use_query_map();
    let outcome = Signal::derive(move || query.with(|q| q.get("oauth")));
    let refused = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(e) = query.with(|q| q.get("oauth_error")) {
            refused.set(Some(e));
        }
    });
    let busy = RwSignal::new(false);
    let begin = move || {
        busy.set(true);
        refused.set(None);
        let path = format!(
            "/api/data/v9.2/mailboxes({})/Microsoft.Dynamics.CRM.mailsync_BeginOAuthSignIn",
            id.get_untracked()
        );
        spawn_local(async move {
            match api::post_json::<_, Value>(&path, &serde_json::json!({})).await {
                Ok(answer) => match answer.get("AuthorizationUrl").and_then(Value::as_str) {
                    Some(url) => {
                        if let Some(w) = web_sys::window() {
                            let _ = w.location().assign(url);
                        }
                    }
                    None => {
                        busy.set(false);
                        refused.set(Some("The answer has no address to sign in at.".into()));
                    }
                },
                Err(e) => {
                    busy.set(false);
                    refused.set(Some(if e.status == 404 {
                        "This organization does not offer the sign-in here: sign the mailbox in \
                         from its form in Dynamics 365 (Sign in to Gmail)."
                            .to_string()
                    } else {
                        e.message
                    }));
                }
            }
        });
    };
    move || {
        let p = provider.get().flatten()?;
        let name = p.name();
        Some(view! {
            <div class="stack" data-testid="oauth-sign-in">
                <p class="small">
                    {move || if signed_in.get() {
                        match renewed_until.get() {
                            None => format!("Signed in to {name}."),
                            Some(until) => format!(
                                "Signed in to {name}; the current access token is good until {}.",
                                crate::time::local(until)
                            ),
                        }
                    } else {
                        format!("Not signed in: the mailbox synchronizes only after its user signs in to {name}.")
                    }}
                </p>
                {move || (outcome.get().as_deref() == Some("signed-in")).then(|| view! {
                    <p class="small" role="status" data-testid="oauth-outcome">{format!("Signed in to {name}. Test & Enable the mailbox to start synchronizing.")}</p>
                })}
                <ErrorNote message=refused dismissable=true testid="oauth-error" />
                <div>
                    <button class="btn btn-secondary btn-sm" disabled=move || busy.get() on:click=move |_| begin()>
                        {format!("Sign in to {name}")}
                    </button>
                </div>
            </div>
        })
    }
}
