//! The fields of a record form, each bound to one property of a [`RecordForm`]'s draft.
//! A field is disabled when the user may not edit the record or when a form rule locks
//! it (`locked`); its `<label for>` names the control, so tests and screen readers find
//! it by its label. A value that blocks Save ([`FieldErrors`], provided by the form) is
//! marked where it is: its message under the control, the control `aria-invalid` and
//! described by the message (and by its hint).

use leptos::prelude::*;
use serde_json::Value;

use super::RecordForm;

fn field_id(prop: &str) -> String {
    format!("f-{prop}")
}

fn disabled(form: RecordForm, locked: MaybeProp<bool>) -> impl Fn() -> bool + Copy {
    move || !form.editable.get() || locked.get().unwrap_or(false)
}

/// What blocks Save, by property (property, message): the form provides it with
/// [`provide_field_errors`], and each field shows its own property's message.
#[derive(Clone, Copy)]
pub struct FieldErrors(Signal<Vec<(&'static str, String)>>);

/// Makes `errors` the messages the fields of this form show (see [`FieldErrors`]).
pub fn provide_field_errors(errors: Signal<Vec<(&'static str, String)>>) {
    provide_context(FieldErrors(errors));
}

/// `prop`'s message in the form's [`FieldErrors`], if any.
fn error_of(prop: &'static str) -> impl Fn() -> Option<String> + Copy + Send + Sync {
    let errors = use_context::<FieldErrors>();
    move || {
        errors.and_then(|e| {
            e.0.with(|list| {
                let found: Vec<&str> = list
                    .iter()
                    .filter(|(p, _)| *p == prop)
                    .map(|(_, m)| m.as_str())
                    .collect();
                (!found.is_empty()).then(|| found.join(" "))
            })
        })
    }
}

fn error_id(prop: &str) -> String {
    format!("f-{prop}-error")
}

fn hint_id(prop: &str) -> String {
    format!("f-{prop}-hint")
}

/// `aria-invalid` of `prop`'s control.
fn invalid(error: impl Fn() -> Option<String>) -> impl Fn() -> Option<&'static str> {
    move || error().map(|_| "true")
}

/// `aria-describedby` of `prop`'s control: its message while there is one, its hint.
fn described_by(
    prop: &'static str,
    hint: Option<&'static str>,
    error: impl Fn() -> Option<String>,
) -> impl Fn() -> Option<String> {
    move || {
        let ids: Vec<String> = [error().map(|_| error_id(prop)), hint.map(|_| hint_id(prop))]
            .into_iter()
            .flatten()
            .collect();
        (!ids.is_empty()).then(|| ids.join(" "))
    }
}

/// `prop`'s message, under its control.
#[component]
fn FieldError(prop: &'static str) -> impl IntoView {
    let error = error_of(prop);
    move || {
        error().map(|m| {
            view! {
                <div class="field-error" id=error_id(prop) data-testid="field-error">
                    {m}
                </div>
            }
        })
    }
}

#[component]
fn Hint(prop: &'static str, hint: Option<&'static str>) -> impl IntoView {
    hint.map(|h| view! { <div class="field-hint" id=hint_id(prop)>{h}</div> })
}

/// A text property; empty is `null`.
#[component]
pub fn TextField(
    form: RecordForm,
    prop: &'static str,
    label: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional, into)] locked: MaybeProp<bool>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=field_id(prop)>{label}</label>
            <input
                id=field_id(prop)
                aria-invalid=invalid(error_of(prop))
                aria-describedby=described_by(prop, hint, error_of(prop))
                class="input"
                type="text"
                disabled=disabled(form, locked)
                prop:value=move || form.text(prop).unwrap_or_default()
                on:input=move |ev| {
                    let v = event_target_value(&ev);
                    form.set(prop, if v.is_empty() { Value::Null } else { Value::String(v) });
                }
            />
            <FieldError prop=prop />
            <Hint prop=prop hint=hint />
        </div>
    }
}

/// A whole-number property; empty is `null`. Out-of-range values are the server's to
/// refuse (core's rules), so the field only hints at the range.
#[component]
pub fn NumberField(
    form: RecordForm,
    prop: &'static str,
    label: &'static str,
    min: i64,
    max: i64,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional, into)] locked: MaybeProp<bool>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=field_id(prop)>{label}</label>
            <input
                id=field_id(prop)
                aria-invalid=invalid(error_of(prop))
                aria-describedby=described_by(prop, hint, error_of(prop))
                class="input input-num"
                type="number"
                step="1"
                min=min.to_string()
                max=max.to_string()
                disabled=disabled(form, locked)
                prop:value=move || form.int(prop).map(|n| n.to_string()).unwrap_or_default()
                on:input=move |ev| {
                    let v = event_target_value(&ev);
                    match v.trim().parse::<i64>() {
                        Ok(n) => form.set(prop, Value::from(n)),
                        Err(_) if v.trim().is_empty() => form.set(prop, Value::Null),
                        // Half-typed ("-"): keep the last number.
                        Err(_) => {}
                    }
                }
            />
            <FieldError prop=prop />
            <Hint prop=prop hint=hint />
        </div>
    }
}

/// A yes/no property as a checkbox.
#[component]
pub fn CheckField(
    form: RecordForm,
    prop: &'static str,
    label: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional, into)] locked: MaybeProp<bool>,
) -> impl IntoView {
    view! {
        <div class="field field-check">
            <label class="checkbox">
                <input
                    id=field_id(prop)
                    aria-invalid=invalid(error_of(prop))
                    aria-describedby=described_by(prop, hint, error_of(prop))
                    type="checkbox"
                    disabled=disabled(form, locked)
                    prop:checked=move || form.flag(prop).unwrap_or(false)
                    on:change=move |ev| form.set(prop, Value::Bool(event_target_checked(&ev)))
                />
                " "
                {label}
            </label>
            <FieldError prop=prop />
            <Hint prop=prop hint=hint />
        </div>
    }
}

/// An option set property: one of `options` (value, label).
#[component]
pub fn ChoiceField(
    form: RecordForm,
    prop: &'static str,
    label: &'static str,
    options: Vec<(i64, &'static str)>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional, into)] locked: MaybeProp<bool>,
) -> impl IntoView {
    let known: Vec<i64> = options.iter().map(|(v, _)| *v).collect();
    let org = use_context::<crate::api::OrgLabels>();
    view! {
        <div class="field">
            <label for=field_id(prop)>{label}</label>
            <select
                id=field_id(prop)
                aria-invalid=invalid(error_of(prop))
                aria-describedby=described_by(prop, hint, error_of(prop))
                class="input"
                disabled=disabled(form, locked)
                on:change=move |ev| {
                    if let Ok(v) = event_target_value(&ev).parse::<i64>() {
                        form.set(prop, Value::from(v));
                    }
                }
            >
                {move || {
                    let v = form.int(prop);
                    (!v.is_some_and(|v| known.contains(&v))).then(|| {
                        let text = v.map_or("(not set)".to_string(), |v| format!("(value {v})"));
                        view! { <option value="" selected=true>{text}</option> }
                    })
                }}
                {options
                    .into_iter()
                    .map(|(v, text)| {
                        // The organization's own label where the page loaded them.
                        let text = move || {
                            org.and_then(|o| o.get(prop, v)).unwrap_or_else(|| text.to_string())
                        };
                        view! {
                            <option value=v.to_string() prop:selected=move || form.int(prop) == Some(v)>
                                {text}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
            <FieldError prop=prop />
            <Hint prop=prop hint=hint />
        </div>
    }
}

/// A lookup (`_x_value`) chosen among `options` (id, name); "(none)" clears it.
#[component]
pub fn LookupField(
    form: RecordForm,
    prop: &'static str,
    label: &'static str,
    #[prop(into)] options: Signal<Vec<(String, String)>>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional, into)] locked: MaybeProp<bool>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=field_id(prop)>{label}</label>
            <select
                id=field_id(prop)
                aria-invalid=invalid(error_of(prop))
                aria-describedby=described_by(prop, hint, error_of(prop))
                class="input"
                disabled=disabled(form, locked)
                on:change=move |ev| {
                    let v = event_target_value(&ev);
                    form.set(prop, if v.is_empty() { Value::Null } else { Value::String(v) });
                }
            >
                <option value="" prop:selected=move || form.text(prop).is_none()>"(none)"</option>
                {move || {
                    options
                        .get()
                        .into_iter()
                        .map(|(id, name)| {
                            let id2 = id.clone();
                            view! {
                                <option value=id prop:selected=move || form.text(prop).as_deref() == Some(id2.as_str())>
                                    {name}
                                </option>
                            }
                        })
                        .collect_view()
                }}
            </select>
            <FieldError prop=prop />
            <Hint prop=prop hint=hint />
        </div>
    }
}

/// A write-only property (a password): never shown, sent only when typed.
#[component]
pub fn SecretField(
    form: RecordForm,
    prop: &'static str,
    label: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional, into)] locked: MaybeProp<bool>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=field_id(prop)>{label}</label>
            <input
                id=field_id(prop)
                aria-invalid=invalid(error_of(prop))
                aria-describedby=described_by(prop, hint, error_of(prop))
                class="input"
                type="password"
                autocomplete="new-password"
                placeholder="Not shown. Type a new one to replace it."
                disabled=disabled(form, locked)
                prop:value=move || form.text(prop).unwrap_or_default()
                on:input=move |ev| {
                    let v = event_target_value(&ev);
                    if v.is_empty() { form.unset(prop) } else { form.set(prop, Value::String(v)) }
                }
            />
            <FieldError prop=prop />
            <Hint prop=prop hint=hint />
        </div>
    }
}

/// A date-and-time property edited as a date (midnight UTC); empty is `null`.
#[component]
pub fn DateField(
    form: RecordForm,
    prop: &'static str,
    label: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional, into)] locked: MaybeProp<bool>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=field_id(prop)>{label}</label>
            <input
                id=field_id(prop)
                aria-invalid=invalid(error_of(prop))
                aria-describedby=described_by(prop, hint, error_of(prop))
                class="input"
                type="date"
                disabled=disabled(form, locked)
                prop:value=move || form.text(prop).map(|t| t.chars().take(10).collect::<String>()).unwrap_or_default()
                on:input=move |ev| {
                    let v = event_target_value(&ev);
                    form.set(prop, if v.is_empty() { Value::Null } else { Value::String(format!("{v}T00:00:00Z")) });
                }
            />
            <FieldError prop=prop />
            <Hint prop=prop hint=hint />
        </div>
    }
}

/// A value the system sets, shown read-only.
#[component]
pub fn ReadOnly(label: &'static str, #[prop(into)] value: Signal<String>) -> impl IntoView {
    view! {
        <div class="field field-readonly">
            <span class="field-label">{label}</span>
            <span class="field-value">{move || { let v = value.get(); if v.is_empty() { "\u{2013}".to_string() } else { v } }}</span>
        </div>
    }
}

/// A read-only date and time, as the console shows every time (local with its zone, UTC
/// on hover).
#[component]
pub fn ReadOnlyDate(
    label: &'static str,
    #[prop(into)] value: Signal<Option<mailsync_core::Timestamp>>,
) -> impl IntoView {
    view! {
        <div class="field field-readonly">
            <span class="field-label">{label}</span>
            <span class="field-value">{move || view! { <crate::time::When at=value.get() /> }}</span>
        </div>
    }
}
