//! mailsync console: a client-side-rendered Leptos SPA built by Trunk into `dist/`.
//!
//! The binary does nothing on native targets except exist, so `cargo check`/`clippy`
//! for the host still type-check the UI code; it is only *run* in the browser.

mod api;
mod app;
mod components;
mod form;
mod format;
mod handoff;
mod org;
mod pages;
mod session;
mod time;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
