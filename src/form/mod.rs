//! Record forms (the mailbox and email server profile forms): the record as the Web API
//! returned it, the user's edits, and the PATCH body of what changed.
//!
//! A form holds a record twice: `saved` (as read, with its `@odata.etag`) and `draft`
//! (what the fields show). Fields read and write `draft` by property name, lookups by
//! their `_x_value` property; [`changes`] turns the difference into a Web API body, with
//! lookups as `x@odata.bind` and write-only columns (passwords) only when typed. Field
//! components are in [`fields`]; [`unsaved`] guards edits against leaving the page.

pub mod fields;
mod note;
pub mod unsaved;

pub use note::{Note, SaveNote};

use leptos::prelude::*;
use serde_json::{Map, Value};

/// A lookup the form edits: its `_x_value` property, the navigation property written
/// with `@odata.bind`, and the entity set of its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup {
    pub property: &'static str,
    pub nav: &'static str,
    pub set: &'static str,
}

/// The properties of `draft` that differ from `saved` (annotations are not properties).
fn edits<'a>(
    saved: &'a Map<String, Value>,
    draft: &'a Map<String, Value>,
) -> impl Iterator<Item = (&'a String, &'a Value)> {
    draft
        .iter()
        .filter(|(k, v)| !k.contains('@') && saved.get(*k).unwrap_or(&Value::Null) != *v)
}

/// The body of a PATCH that makes `saved` into `draft`: every property whose value
/// differs, lookups as binds. Annotations are never sent.
pub fn changes(
    saved: &Map<String, Value>,
    draft: &Map<String, Value>,
    lookups: &[Lookup],
) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in edits(saved, draft) {
        match lookups.iter().find(|l| l.property == key) {
            Some(l) => {
                let bind = match value.as_str().filter(|id| !id.is_empty()) {
                    Some(id) => Value::String(format!("/{}({id})", l.set)),
                    None => Value::Null,
                };
                out.insert(format!("{}@odata.bind", l.nav), bind);
            }
            None => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    out
}

/// A record as the Web API reads and writes it: property name → JSON value.
pub type Record = Map<String, Value>;

/// Form rules: the draft after an edit, from the draft before it and the edited one.
pub type Rules = fn(&Record, Record) -> Record;

/// The properties the user edited (`draft` against `saved`) that someone else changed
/// meanwhile (`fresh`, the record as it is now). Empty: the edits still apply as they
/// are, on top of the other changes.
pub fn conflicts(saved: &Record, draft: &Record, fresh: &Record) -> Vec<String> {
    edits(saved, draft)
        .filter(|(k, _)| saved.get(*k) != fresh.get(*k))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Why a save did not happen.
#[derive(Debug, Clone, PartialEq)]
pub enum SaveError {
    /// Someone else changed what the user edited (these properties) since it was read.
    Stale(Vec<String>),
    Api(crate::api::ApiError),
}

/// Saves the edits of `form` to `path` with `If-Match`. When someone else saved the
/// record first (412) but changed none of the properties the user edited (the engine
/// writes a mailbox's synchronization columns every few minutes), the edits are put on
/// top of the current record and sent once more.
pub async fn save(form: RecordForm, path: &str, lookups: &[Lookup]) -> Result<(), SaveError> {
    let body = form.changes(lookups);
    match crate::api::patch_json(path, &body, form.etag().as_deref()).await {
        Ok(()) => return Ok(()),
        Err(e) if e.status == 412 => {}
        Err(e) => return Err(SaveError::Api(e)),
    }
    let fresh: Record = crate::api::get_json(path).await.map_err(SaveError::Api)?;
    form.rebase(fresh).map_err(SaveError::Stale)?;
    let body = form.changes(lookups);
    match crate::api::patch_json(path, &body, form.etag().as_deref()).await {
        Ok(()) => Ok(()),
        Err(e) if e.status == 412 => Err(SaveError::Stale(Vec::new())),
        Err(e) => Err(SaveError::Api(e)),
    }
}

/// A record form's state. `Copy`: pass it to every field.
#[derive(Clone, Copy)]
pub struct RecordForm {
    pub saved: RwSignal<Option<Map<String, Value>>>,
    pub draft: RwSignal<Map<String, Value>>,
    /// Whether the signed-in user may change the record at all.
    pub editable: Signal<bool>,
    /// Bumped by every `load`/`blank`: rules that react to edits skip a new record.
    pub loads: RwSignal<u32>,
}

impl RecordForm {
    pub fn new(editable: Signal<bool>) -> Self {
        RecordForm {
            saved: RwSignal::new(None),
            draft: RwSignal::new(Map::new()),
            editable,
            loads: RwSignal::new(0),
        }
    }

    /// Shows `record` as saved, dropping any edits.
    pub fn load(self, record: Map<String, Value>) {
        self.loads.update(|n| *n += 1);
        self.draft.set(record.clone());
        self.saved.set(Some(record));
    }

    /// Starts a new record: nothing saved, `defaults` in the fields.
    pub fn blank(self, defaults: Map<String, Value>) {
        self.loads.update(|n| *n += 1);
        self.saved.set(Some(Map::new()));
        self.draft.set(defaults);
    }

    /// Applies `rules(before, after)` after every edit (not to a freshly loaded
    /// record): the implied changes of form rules appear as the user edits.
    pub fn follow_rules(self, rules: Rules) {
        Effect::new(move |prev: Option<(u32, Record)>| {
            let loads = self.loads.get();
            let current = self.draft.get();
            let before = match prev {
                Some((l, before)) if l == loads => before,
                _ => return (loads, current),
            };
            let ruled = rules(&before, current.clone());
            if ruled != current {
                self.draft.set(ruled.clone());
            }
            (loads, ruled)
        });
    }

    /// Puts the saved values back.
    pub fn discard(self) {
        if let Some(s) = self.saved.get_untracked() {
            self.draft.set(s);
        }
    }

    pub fn text(self, prop: &str) -> Option<String> {
        self.draft
            .with(|d| d.get(prop).and_then(Value::as_str).map(str::to_string))
    }

    pub fn int(self, prop: &str) -> Option<i64> {
        self.draft.with(|d| d.get(prop).and_then(Value::as_i64))
    }

    pub fn flag(self, prop: &str) -> Option<bool> {
        self.draft.with(|d| d.get(prop).and_then(Value::as_bool))
    }

    pub fn set(self, prop: &str, value: Value) {
        self.draft.update(|d| {
            d.insert(prop.to_string(), value);
        });
    }

    /// Forgets an edit of `prop` (a write-only field emptied again).
    pub fn unset(self, prop: &str) {
        self.draft.update(|d| {
            d.remove(prop);
        });
    }

    /// The saved record's value of `prop` (tracked).
    pub fn saved_value(self, prop: &str) -> Value {
        self.saved.with(|s| {
            s.as_ref()
                .and_then(|s| s.get(prop).cloned())
                .unwrap_or(Value::Null)
        })
    }

    /// The saved record's date-and-time `prop` (for read-only fields, shown by
    /// [`crate::time::When`]).
    pub fn saved_date(self, prop: &'static str) -> Signal<Option<mailsync_core::Timestamp>> {
        Signal::derive(move || self.saved_value(prop).as_str().and_then(crate::time::parse))
    }

    /// The PATCH (or POST) body of the edits (tracked).
    pub fn changes(self, lookups: &[Lookup]) -> Map<String, Value> {
        self.saved.with(|s| match s {
            Some(s) => self.draft.with(|d| changes(s, d, lookups)),
            None => Map::new(),
        })
    }

    /// Takes `fresh` (the record after someone else's save) as the saved record and
    /// keeps the user's edits on top, unless one of them touches what was changed: then
    /// nothing moves and the conflicting properties are returned.
    pub fn rebase(self, fresh: Record) -> Result<(), Vec<String>> {
        let saved = self.saved.get_untracked().unwrap_or_default();
        let draft = self.draft.with_untracked(|d| {
            let clash = conflicts(&saved, d, &fresh);
            if !clash.is_empty() {
                return Err(clash);
            }
            let mut next = fresh.clone();
            for (k, v) in edits(&saved, d) {
                next.insert(k.clone(), v.clone());
            }
            Ok(next)
        })?;
        self.saved.set(Some(fresh));
        self.draft.set(draft);
        Ok(())
    }

    /// The saved record's `@odata.etag`, for `If-Match`.
    pub fn etag(self) -> Option<String> {
        self.saved.with_untracked(|s| {
            s.as_ref()
                .and_then(|s| s.get("@odata.etag"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PROFILE: Lookup = Lookup {
        property: "_emailserverprofile_value",
        nav: "emailserverprofile",
        set: "emailserverprofiles",
    };

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn only_what_changed_is_sent() {
        let saved = map(
            json!({"@odata.etag": "W/\"3\"", "name": "A", "incomingportnumber": 993, "usessl": true}),
        );
        let mut draft = saved.clone();
        assert!(changes(&saved, &draft, &[]).is_empty());
        draft.insert("incomingportnumber".into(), json!(143));
        draft.insert("usessl".into(), json!(true));
        assert_eq!(
            changes(&saved, &draft, &[]),
            map(json!({"incomingportnumber": 143}))
        );
    }

    #[test]
    fn lookups_become_binds_and_clearing_is_null() {
        let saved = map(json!({"_emailserverprofile_value": "a"}));
        let draft = map(json!({"_emailserverprofile_value": "b"}));
        assert_eq!(
            changes(&saved, &draft, &[PROFILE]),
            map(json!({"emailserverprofile@odata.bind": "/emailserverprofiles(b)"}))
        );
        let cleared = map(json!({"_emailserverprofile_value": ""}));
        assert_eq!(
            changes(&saved, &cleared, &[PROFILE]),
            map(json!({"emailserverprofile@odata.bind": null}))
        );
    }

    #[test]
    fn only_edits_of_changed_properties_conflict() {
        let saved = map(json!({"name": "A", "processanddeleteemails": false, "processedtimes": 1}));
        let draft = map(json!({"name": "B", "processanddeleteemails": false, "processedtimes": 1}));
        // The engine changed a column the user did not touch: no conflict.
        let fresh = map(json!({"name": "A", "processanddeleteemails": false, "processedtimes": 2}));
        assert!(conflicts(&saved, &draft, &fresh).is_empty());
        // Someone renamed it too: a conflict on name.
        let fresh = map(json!({"name": "C", "processanddeleteemails": false, "processedtimes": 2}));
        assert_eq!(conflicts(&saved, &draft, &fresh), vec!["name".to_string()]);
        // A typed password conflicts with nothing (never read back).
        let draft = map(json!({"name": "A", "password": "x"}));
        assert!(conflicts(&saved, &draft, &fresh).is_empty());
    }

    #[test]
    fn write_only_values_are_sent_when_typed() {
        // The API never returns a password: typed, it differs from the absent value.
        let saved = map(json!({"name": "A"}));
        let draft = map(json!({"name": "A", "password": "s3cret"}));
        assert_eq!(
            changes(&saved, &draft, &[]),
            map(json!({"password": "s3cret"}))
        );
    }
}
