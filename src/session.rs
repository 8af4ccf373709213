//! Who is signed in: the session context, the header's session menu and the guard
//! that sends signed-out users to `/signin`.
//!
//! `App` calls [`Session::provide`] once; it asks the organization in use who is
//! signed in (`api::me`: the local organization's session cookie, or a Dataverse
//! environment's token) and then holds the answer. Sign-in (`pages/signin.rs`), the
//! organization switcher and sign-out update it. A reload starts from `me()` again (an
//! environment's access token is in memory only: its refresh token renews it).

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{Redirect, A};
use leptos_router::hooks::use_location;
use leptos_router::NavigateOptions;

use crate::api::{self, User};

/// Where sign-in leads when it was not sent from a page.
pub const DEFAULT_AFTER_SIGN_IN: &str = "/mailboxes";

/// The console's view of the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// Asking the server (at start).
    Checking,
    SignedOut,
    SignedIn(User),
    /// The server could not say (not running, or no API behind this console); treated
    /// as signed out, with the reason kept for the sign-in page.
    Unavailable(String),
}

/// [`Auth`] without the user: what guards react to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Checking,
    SignedIn,
    SignedOut,
}

/// The session context (`Copy`; get it with [`use_session`]).
#[derive(Clone, Copy)]
pub struct Session {
    auth: RwSignal<Auth>,
    sign_out: Action<(), ()>,
}

impl Session {
    /// Creates the context, provides it and starts asking the server who is signed in.
    pub fn provide() -> Self {
        let auth = RwSignal::new(Auth::Checking);
        let sign_out = Action::new_local(move |_: &()| async move {
            match api::logout().await {
                Ok(()) => auth.set(Auth::SignedOut),
                // The server may still hold the session: show what it says now.
                Err(_) => auth.set(check().await),
            }
        });
        api::on_session_expired(move || {
            if matches!(auth.get_untracked(), Auth::SignedIn(_)) {
                auth.set(Auth::SignedOut);
            }
        });
        let session = Session { auth, sign_out };
        provide_context(session);
        spawn_local(async move { auth.set(check().await) });
        session
    }

    /// The current state (tracked).
    pub fn auth(self) -> Auth {
        self.auth.get()
    }

    /// The current state without the user (tracked).
    pub fn status(self) -> Status {
        self.auth.with(|a| match a {
            Auth::Checking => Status::Checking,
            Auth::SignedIn(_) => Status::SignedIn,
            Auth::SignedOut | Auth::Unavailable(_) => Status::SignedOut,
        })
    }

    /// Records a successful sign-in.
    pub fn signed_in(self, user: User) {
        self.auth.set(Auth::SignedIn(user));
    }

    /// Asks the organization in use again (after switching organization or a sign-in
    /// to an environment).
    pub fn refresh(self) {
        let auth = self.auth;
        auth.set(Auth::Checking);
        spawn_local(async move { auth.set(check().await) });
    }

    /// Signs out on the server, then locally.
    pub fn sign_out(self) {
        self.sign_out.dispatch(());
    }

    /// A sign-out is under way (tracked).
    pub fn signing_out(self) -> bool {
        self.sign_out.pending().get()
    }
}

/// Asks the server who is signed in.
async fn check() -> Auth {
    match api::me().await {
        Ok(Some(user)) => Auth::SignedIn(user),
        Ok(None) => Auth::SignedOut,
        Err(e) => Auth::Unavailable(e.message),
    }
}

/// The session context provided by `App`.
pub fn use_session() -> Session {
    expect_context::<Session>()
}

/// Where to go after signing in, from the sign-in page's `next` parameter: a path of
/// this console (not another site, not the sign-in page itself), else the default.
pub fn after_sign_in(next: Option<&str>) -> String {
    match next.map(str::trim) {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control)
                && path != "/signin"
                && !path.starts_with("/signin?")
                && !path.starts_with("/signin/") =>
        {
            path.to_string()
        }
        _ => DEFAULT_AFTER_SIGN_IN.to_string(),
    }
}

/// The sign-in page's address that comes back to `here` (a path with its query).
pub fn sign_in_href(here: &str) -> String {
    let next = after_sign_in(Some(here));
    if next == DEFAULT_AFTER_SIGN_IN && here != DEFAULT_AFTER_SIGN_IN {
        return "/signin".to_string();
    }
    format!("/signin?next={}", encode_query_value(&next))
}

/// Percent-encodes a query parameter value (`/` is left as is, for readability).
fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The current path with its query string (tracked).
fn current_path() -> impl Fn() -> String + Copy {
    let location = use_location();
    move || {
        let path = location.pathname.get();
        let search = location.search.get();
        let search = search.trim_start_matches('?');
        if search.is_empty() {
            path
        } else {
            format!("{path}?{search}")
        }
    }
}

/// Renders `children` when signed in; sends a signed-out user to `/signin` (which comes
/// back here afterwards). For the areas that need the organization.
#[component]
pub fn RequireSignIn(children: ChildrenFn) -> impl IntoView {
    let session = use_session();
    let status = Memo::new(move |_| session.status());
    let here = current_path();
    move || match status.get() {
        Status::SignedIn => children().into_any(),
        Status::Checking => view! {
            <section class="page session-checking" aria-busy="true">
                <p class="muted">
                    <span class="spinner" aria-hidden="true"></span>
                    " Checking your sign-in…"
                </p>
            </section>
        }
        .into_any(),
        Status::SignedOut => {
            let target = sign_in_href(&untrack(here));
            view! {
                <Redirect
                    path=target
                    options=NavigateOptions {
                        replace: true,
                        ..Default::default()
                    }
                />
            }
            .into_any()
        }
    }
}

/// The header's right-hand side: the signed-in user with "Sign out", or "Sign in".
#[component]
pub fn SessionMenu() -> impl IntoView {
    let session = use_session();
    let location = use_location();
    let here = current_path();
    move || match session.auth() {
        Auth::Checking => view! { <div class="session" aria-busy="true"></div> }.into_any(),
        Auth::SignedIn(user) => {
            let name = user.display_name().to_string();
            let roles = user.roles_label();
            let title = format!("Signed in as {} ({})", user.domainname, user.fullname);
            view! {
                <div class="session" data-testid="session">
                    <OrgSwitcher />
                    <div class="session-user" title=title>
                        <span class="session-avatar" aria-hidden="true">
                            {initials(&name)}
                        </span>
                        <span class="session-text">
                            <span class="session-name">{name}</span>
                            <span class="session-roles">{roles}</span>
                        </span>
                    </div>
                    <button
                        type="button"
                        class="btn btn-sm session-signout"
                        disabled=move || session.signing_out()
                        on:click=move |_| session.sign_out()
                    >
                        "Sign out"
                    </button>
                </div>
            }
            .into_any()
        }
        Auth::SignedOut | Auth::Unavailable(_) => {
            let on_sign_in = move || location.pathname.get() == "/signin";
            view! {
                <div class="session" data-testid="session">
                    <OrgSwitcher />
                    <Show when=move || !on_sign_in()>
                        <A href=move || sign_in_href(&here()) attr:class="btn btn-sm session-signin">
                            "Sign in"
                        </A>
                    </Show>
                </div>
            }
            .into_any()
        }
    }
}

/// The organization in use, and a switch to the others the console knows (the local
/// organization and the saved Dataverse environments). Switching asks the chosen one
/// who is signed in; signed out there, the page goes to sign-in.
#[component]
fn OrgSwitcher() -> impl IntoView {
    use crate::org::current::{self, Org};
    let session = use_session();
    let here = current_path();
    let navigate = leptos_router::hooks::use_navigate();
    let options: Vec<(String, String)> = std::iter::once(Org::Local)
        .chain(current::saved().into_iter().map(Org::Dataverse))
        .map(|o| (o.key(), o.label()))
        .collect();
    let selected = current::current().key();
    let on_change = move |ev: leptos::ev::Event| {
        let key = event_target_value(&ev);
        let org = if key == "local" {
            Org::Local
        } else {
            match current::saved().into_iter().find(|e| e.url == key) {
                Some(e) => Org::Dataverse(e),
                None => return,
            }
        };
        current::select(org);
        session.refresh();
        let path = untrack(here);
        if !path.starts_with("/signin") && !path.starts_with("/analyzer") {
            navigate(&path, NavigateOptions::default());
        }
    };
    view! {
        <label class="org-switch" title="The organization this console works with">
            <span class="sr-only">"Organization"</span>
            <select class="input org-switch-select" data-testid="org-switch" on:change=on_change>
                {options
                    .into_iter()
                    .map(|(key, label)| {
                        let is = key == selected;
                        view! { <option value=key selected=is>{label}</option> }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

/// Up to two initials of a name, for the avatar (a note in parentheses is not part of
/// the name).
fn initials(name: &str) -> String {
    let name = match name.split_once('(') {
        Some((before, _)) if !before.trim().is_empty() => before,
        _ => name,
    };
    name.split_whitespace()
        .filter_map(|w| w.chars().find(|c| c.is_alphanumeric()))
        .take(2)
        .flat_map(char::to_uppercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_inside_the_console() {
        assert_eq!(after_sign_in(None), "/mailboxes");
        assert_eq!(after_sign_in(Some("")), "/mailboxes");
        assert_eq!(after_sign_in(Some("/profiles")), "/profiles");
        assert_eq!(
            after_sign_in(Some("/mailboxes?view=pending")),
            "/mailboxes?view=pending"
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "javascript:alert(1)",
            "/signin",
            "/signin?next=/x",
            "mailboxes",
        ] {
            assert_eq!(after_sign_in(Some(bad)), "/mailboxes", "{bad}");
        }
    }

    #[test]
    fn sign_in_links_come_back() {
        assert_eq!(sign_in_href("/mailboxes"), "/signin?next=/mailboxes");
        assert_eq!(sign_in_href("/profiles"), "/signin?next=/profiles");
        assert_eq!(
            sign_in_href("/mailboxes?view=a b&x=1"),
            "/signin?next=/mailboxes%3Fview%3Da%20b%26x%3D1"
        );
        assert_eq!(sign_in_href("/signin"), "/signin");
    }

    #[test]
    fn initials_of_names() {
        assert_eq!(initials("Megan Bowen"), "MB");
        assert_eq!(initials("Admin (System Administrator)"), "A");
        assert_eq!(initials("(Service) account"), "SA");
        assert_eq!(initials("pat"), "P");
        assert_eq!(initials(""), "");
    }
}
