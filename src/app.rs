//! The console shell: header bar (with the session menu), left navigation and the
//! routed content area. The areas that need the organization sit behind
//! `RequireSignIn`; the Log Analyzer works signed out.

use leptos::prelude::*;
use leptos_router::components::{Redirect, Route, Router, Routes, A};
use leptos_router::path;

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
                <main class="content" id="content">
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
