//! The console shell: header bar (with the session menu), left navigation and the
//! routed content area. The areas that need the organization sit behind
//! `RequireSignIn`; the Log Analyzer works signed out.
//!
//! Keyboard and screen readers: "Skip to content" is the first Tab stop and leads to
//! the main content; a route change moves focus to the new page's heading
//! (`main h1`, made focusable with `tabindex="-1"`), as a page load would put a
//! screen reader at its top.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use leptos_router::components::{Redirect, Route, Router, Routes, A};
use leptos_router::hooks::use_location;
use leptos_router::path;

use crate::components::focus;
use crate::pages::alerts::Alerts;
use crate::pages::analyzer::LogAnalyzer;
use crate::pages::dashboard::Dashboard;
use crate::pages::mailboxes::{MailboxRecord, Mailboxes};
use crate::pages::profiles::{ProfileRecord, Profiles};
use crate::pages::settings::Settings;
use crate::pages::signin::SignIn;
use crate::session::{RequireSignIn, Session, SessionMenu};

/// One entry of the left navigation.
struct NavItem {
    href: &'static str,
    label: &'static str,
}

/// Navigation order as shown in the sidebar.
const NAV: &[NavItem] = &[
    NavItem {
        href: "/mailboxes",
        label: "Mailboxes",
    },
    NavItem {
        href: "/profiles",
        label: "Email Server Profiles",
    },
    NavItem {
        href: "/alerts",
        label: "Alerts",
    },
    NavItem {
        href: "/dashboard",
        label: "Dashboard",
    },
    NavItem {
        href: "/settings",
        label: "Settings",
    },
    NavItem {
        href: "/analyzer",
        label: "Log Analyzer",
    },
];

#[component]
pub fn App() -> impl IntoView {
    Session::provide();
    view! {
        <Router>
            <FocusOnRouteChange />
            <a
                class="skip-link"
                href="#content"
                // The link's own listener runs before the router's (on the window),
                // which leaves a click whose default is prevented alone.
                on:click=move |ev| {
                    ev.prevent_default();
                    focus::main_heading();
                }
            >
                "Skip to content"
            </a>
            <div class="shell">
                <header class="topbar">
                    <a class="brand" href="/">
                        <span class="brand-mark" aria-hidden="true">"M"</span>
                        <span class="brand-name">"mailsync"</span>
                    </a>
                    <span class="topbar-sub">"Server-side synchronization console"</span>
                    <SessionMenu />
                </header>
                <nav class="sidenav" aria-label="Main">
                    <ul>
                        {NAV
                            .iter()
                            .map(|item| {
                                view! {
                                    <li>
                                        <A href=item.href>{item.label}</A>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                </nav>
                <main class="content" id="content" tabindex="-1">
                    <Routes fallback=NotFound>
                        <Route path=path!("/") view=|| view! { <Redirect path="/analyzer" /> } />
                        <Route path=path!("/analyzer") view=LogAnalyzer />
                        <Route path=path!("/signin") view=SignIn />
                        <Route
                            path=path!("/mailboxes")
                            view=Mailboxes
                        />
                        <Route path=path!("/mailboxes/:id") view=MailboxRecord />
                        <Route path=path!("/profiles") view=Profiles />
                        <Route path=path!("/profiles/:id") view=ProfileRecord />
                        <Route
                            path=path!("/alerts")
                            view=|| view! { <RequireSignIn><Alerts /></RequireSignIn> }
                        />
                        <Route path=path!("/dashboard") view=Dashboard />
                        <Route
                            path=path!("/settings")
                            view=|| view! { <RequireSignIn><Settings /></RequireSignIn> }
                        />
                    </Routes>
                </main>
            </div>
        </Router>
    }
}

/// After a route change (not the first page, nor `/`'s redirect), focus goes to the new
/// page's heading once it is rendered, or to the field the page autofocuses. Pages render
/// after a sign-in check or a first read, so this looks every 50 ms for 2 s; it stops as
/// soon as something else has focus (the user, or a dialog), so it never takes it back.
#[component]
fn FocusOnRouteChange() -> impl IntoView {
    let location = use_location();
    // Each navigation's search stops the previous one's.
    let generation = Rc::new(Cell::new(0u32));
    let generation = StoredValue::new_local(generation);
    Effect::new(move |prev: Option<String>| {
        let path = location.pathname.get();
        if prev.is_some_and(|p| p != path && p != "/") {
            let gen = generation.get_value();
            gen.set(gen.get().wrapping_add(1));
            let before = focus::active();
            seek_heading(gen.clone(), gen.get(), before, None, 0);
        }
        path
    });
}

/// One look for the page's heading (see [`FocusOnRouteChange`]).
fn seek_heading(
    gen: Rc<Cell<u32>>,
    mine: u32,
    before: Option<web_sys::Element>,
    focused: Option<web_sys::Element>,
    tries: u32,
) {
    const TRIES: u32 = 40;
    if gen.get() != mine || tries > TRIES {
        return;
    }
    let active = focus::active();
    let same = |a: &web_sys::Element, b: &Option<web_sys::Element>| {
        b.as_ref().is_some_and(|b| a.is_same_node(Some(b)))
    };
    let body = focus::document().and_then(|d| d.body());
    let idle = match &active {
        None => true,
        Some(a) => {
            same(a, &before)
                || same(a, &focused)
                || body.as_ref().is_some_and(|b| a.is_same_node(Some(b)))
        }
    };
    if !idle {
        return;
    }
    // A page that names its own first field (`autofocus`, the sign-in form) keeps it:
    // the browser skips `autofocus` once something has focus, so it is focused here.
    let main = focus::document().and_then(|d| d.get_element_by_id("content"));
    let heading = main
        .as_ref()
        .and_then(|m| focus::find(m, "[autofocus]").or_else(|| focus::find(m, "h1")));
    let mut focused = focused;
    if let Some(h) = heading {
        // Until the time is up, whatever replaces the page's heading (a sign-in check
        // done, a field appearing) gets the same treatment.
        if !active.as_ref().is_some_and(|a| a.is_same_node(Some(&h))) {
            if h.tag_name() == "H1" && !h.has_attribute("tabindex") {
                let _ = h.set_attribute("tabindex", "-1");
            }
            let _ = h.focus();
        }
        focused = Some(h.into());
    }
    set_timeout(
        move || seek_heading(gen, mine, before, focused, tries + 1),
        Duration::from_millis(50),
    );
}

/// Shown for any path the router does not know.
#[component]
fn NotFound() -> impl IntoView {
    view! {
        <section class="page">
            <h1>"Page not found"</h1>
            <div class="card">
                <p>"There is no console page at this address."</p>
                <p>
                    <A href="/analyzer">"Go to the Log Analyzer"</A>
                </p>
            </div>
        </section>
    }
}
