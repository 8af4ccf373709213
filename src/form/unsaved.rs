//! Unsaved changes are not lost silently: while a page's form is dirty, leaving through
//! a console link asks first (a capturing click listener, so the router never sees a
//! refused click) and reloading or closing the tab gets the browser's "leave site?"
//! prompt (`beforeunload`). One page guards at a time; the listeners are installed once.

use std::cell::{Cell, RefCell};

use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

thread_local! {
    /// The question to ask while the page has unsaved changes; `None` when clean.
    static DIRTY: RefCell<Option<&'static str>> = const { RefCell::new(None) };
    static INSTALLED: Cell<bool> = const { Cell::new(false) };
}

/// Asks `question` before the page is left while `dirty` is true. Call it in the
/// page's component: the guard ends with the page.
pub fn guard(dirty: Signal<bool>, question: &'static str) {
    Effect::new(move |_| {
        let q = dirty.get().then_some(question);
        DIRTY.with(|d| *d.borrow_mut() = q);
    });
    on_cleanup(|| DIRTY.with(|d| *d.borrow_mut() = None));
    install();
}

/// Forgets the unsaved changes (the page is about to leave on purpose, e.g. after a
/// delete).
pub fn release() {
    DIRTY.with(|d| *d.borrow_mut() = None);
}

fn question() -> Option<&'static str> {
    DIRTY.with(|d| *d.borrow())
}

fn install() {
    if INSTALLED.with(|i| i.replace(true)) {
        return;
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    let click = Closure::<dyn Fn(web_sys::MouseEvent)>::new(|ev: web_sys::MouseEvent| {
        let Some(q) = question() else {
            return;
        };
        let Some(target) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        else {
            return;
        };
        if target.closest("a[href]").ok().flatten().is_none() {
            return;
        }
        let leave = web_sys::window()
            .and_then(|w| w.confirm_with_message(q).ok())
            .unwrap_or(true);
        if leave {
            release();
        } else {
            ev.prevent_default();
            ev.stop_immediate_propagation();
        }
    });
    let _ = window.add_event_listener_with_callback_and_bool(
        "click",
        click.as_ref().unchecked_ref(),
        true,
    );
    click.forget();
    let unload = Closure::<dyn Fn(web_sys::Event)>::new(|ev: web_sys::Event| {
        if let Some(q) = question() {
            ev.prevent_default();
            let _ = js_sys::Reflect::set(&ev, &"returnValue".into(), &q.into());
        }
    });
    let _ =
        window.add_event_listener_with_callback("beforeunload", unload.as_ref().unchecked_ref());
    unload.forget();
}
