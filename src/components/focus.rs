//! Moving keyboard focus: the page's heading after a route change or the skip link,
//! and the elements a dialog keeps Tab inside.

use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement};

/// What Tab can reach inside a container (enabled controls, links, `tabindex` ≥ 0).
const TABBABLE: &str =
    "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), \
     select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";

pub fn document() -> Option<web_sys::Document> {
    web_sys::window().and_then(|w| w.document())
}

/// The element that has focus now (an HTML or an SVG element, or the body).
pub fn active() -> Option<Element> {
    document()?.active_element()
}

/// Focuses `el`, an HTML or an SVG element.
pub fn focus(el: &Element) {
    if let Some(h) = el.dyn_ref::<HtmlElement>() {
        let _ = h.focus();
    } else if let Some(s) = el.dyn_ref::<web_sys::SvgElement>() {
        let _ = s.focus();
    }
}

/// The elements of `root` that Tab reaches, in document order.
pub fn tabbable(root: &Element) -> Vec<HtmlElement> {
    // `querySelectorAll` through js_sys: web-sys' `NodeList` is not a feature this
    // crate enables.
    let Ok(list) = js_sys::Reflect::get(root, &"querySelectorAll".into())
        .and_then(|f| f.dyn_into::<js_sys::Function>())
        .and_then(|f| f.call1(root, &TABBABLE.into()))
    else {
        return Vec::new();
    };
    js_sys::Array::from(&list)
        .iter()
        .filter_map(|e| e.dyn_into::<HtmlElement>().ok())
        .collect()
}

/// The first element of `root` matching `selector`, as an HTML element.
pub fn find(root: &Element, selector: &str) -> Option<HtmlElement> {
    root.query_selector(selector)
        .ok()
        .flatten()?
        .dyn_into::<HtmlElement>()
        .ok()
}

/// Focuses the page's heading (`main h1`, made focusable with `tabindex="-1"`), or the
/// main content itself when the page has none yet. Returns whether a heading took it.
pub fn main_heading() -> bool {
    let Some(doc) = document() else {
        return false;
    };
    let Some(main) = doc.get_element_by_id("content") else {
        return false;
    };
    match find(&main, "h1") {
        Some(h1) => {
            if !h1.has_attribute("tabindex") {
                let _ = h1.set_attribute("tabindex", "-1");
            }
            let _ = h1.focus();
            true
        }
        None => {
            if let Ok(main) = main.dyn_into::<HtmlElement>() {
                let _ = main.focus();
            }
            false
        }
    }
}
