//! The console's data grid: a table of records over a page's [`GridColumn`]s, with the
//! columns the user hid ([`hidden_columns`](super::columns::hidden_columns)) hidden,
//! a sort button in every sortable header (`aria-sort` on its `th`), an optional
//! selection column ([`SelectAll`]: all / none / some, and one checkbox per row), the
//! loading, error and empty states, and the page's [`Pager`](super::Pager) under it.
//! The page says how a row reads (its cells); the grid does the rest, so the Mailboxes
//! and Email Server Profiles grids behave alike.
//!
//! ```ignore
//! <DataGrid
//!     columns=COLUMNS
//!     hidden=hidden
//!     rows=Callback::new(move |()| list.get().map(|r| r.map_err(|e| e.message)))
//!     key=|p: &Profile| (p.id.clone(), p.name.clone())
//!     cells=profile_cells
//!     sort=Callback::new(move |()| sort.get())
//!     on_sort=Callback::new(move |col| sort.update(|s| *s = (col, s.0 == col && !s.1)))
//!     empty="No email server profiles yet."
//!     testid="profile-grid"
//! />
//! ```
//!
//! Each row is a `<tr data-id>` (`.is-selected` when selected). The page's cells are
//! one `<td data-col="<key>">` per column, in the columns' order: `data-col` is what
//! the header's `th` shares and what hides a column (`.cols-hide-<key>`, in CSS).

use std::collections::BTreeSet;

use indexmap::IndexMap;
use leptos::prelude::*;

use super::columns::{hiding_classes, GridColumn};
use super::error::error_callout;
use super::{SelectAll, Selected};

/// The rows selected: id → name, in the order chosen (a bulk run's results keep it).
pub type Selection = RwSignal<IndexMap<String, String>>;

#[component]
pub fn DataGrid<R>(
    columns: &'static [GridColumn],
    /// The columns' keys the user hid.
    hidden: RwSignal<BTreeSet<&'static str>>,
    /// The rows, read reactively: `None` while the first ones load, the error's
    /// sentence, or the rows.
    rows: Read<Option<Result<Vec<R>, String>>>,
    /// A row's id (its `data-id`, its key in the selection) and name (its checkbox's label).
    key: fn(&R) -> (String, String),
    /// A row's cells.
    cells: fn(R) -> AnyView,
    /// The sort property and whether it is descending, read reactively.
    sort: Read<(&'static str, bool)>,
    /// A sortable header's click, with its column's sort property.
    on_sort: Callback<&'static str>,
    /// What the grid says when there is no row.
    empty: &'static str,
    /// The table's `data-testid`.
    testid: &'static str,
    /// The page's class on the grid's scrolling card (its column widths, sticky columns).
    #[prop(optional)]
    class: &'static str,
    /// A checkbox per row, and the select-all in the header.
    #[prop(optional)]
    selection: Option<Selection>,
    /// The select-all's accessible name ("Select page" where the grid has pages).
    #[prop(default = "Select all")]
    select_label: &'static str,
    /// Busy beyond the first load (another page on its way): `aria-busy`.
    #[prop(optional, into)]
    busy: Signal<bool>,
    /// Under the table: the grid's pager.
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView
where
    R: Send + Sync + 'static,
{
    // Only these two know the page's row type: the table is one copy of the code for
    // every grid.
    let keys = Callback::new(move |()| {
        rows.run(())
            .map(|r| r.map(|list| list.iter().map(key).collect()))
    });
    let lines = Callback::new(move |()| {
        let list = rows.run(()).and_then(Result::ok).unwrap_or_default();
        list.into_iter()
            .map(|r| {
                let (id, name) = key(&r);
                row(id, name, cells(r), selection)
            })
            .collect_view()
            .into_any()
    });
    Table {
        columns,
        hidden,
        keys,
        lines,
        sort,
        on_sort,
        empty,
        testid,
        class,
        selection,
        select_label,
        busy,
    }
    .view(children)
}

/// A value read reactively (whatever signals it reads are tracked where it is run). A
/// callback rather than a `Signal`: each `Signal<T>` of a new `T` costs the console
/// about 0.7 KB of gzip, which a grid's few values do not need.
pub type Read<T> = Callback<(), T>;

/// The rows as the table sees them: `None` while loading, the error's sentence, or each
/// row's id and name.
type Keys = Read<Option<Result<Vec<(String, String)>, String>>>;

/// The grid without its row type.
struct Table {
    columns: &'static [GridColumn],
    hidden: RwSignal<BTreeSet<&'static str>>,
    keys: Keys,
    /// Every row, rendered.
    lines: Read<AnyView>,
    sort: Read<(&'static str, bool)>,
    on_sort: Callback<&'static str>,
    empty: &'static str,
    testid: &'static str,
    class: &'static str,
    selection: Option<Selection>,
    select_label: &'static str,
    busy: Signal<bool>,
}

impl Table {
    fn view(self, children: Option<Children>) -> impl IntoView {
        let Table {
            columns,
            hidden,
            keys,
            lines,
            sort,
            on_sort,
            empty,
            testid,
            class,
            selection,
            select_label,
            busy,
        } = self;
        let span = (columns.len() + usize::from(selection.is_some())).to_string();
        let body = move || {
            match keys.run(()) {
            None => view! {
                <tr><td colspan=span.clone() class="muted"><span class="spinner"></span>" Loading\u{2026}"</td></tr>
            }
            .into_any(),
            Some(Err(e)) => view! {
                <tr><td colspan=span.clone()>{error_callout(e)}</td></tr>
            }
            .into_any(),
            Some(Ok(list)) if list.is_empty() => view! {
                <tr><td colspan=span.clone() class="muted">{empty}</td></tr>
            }
            .into_any(),
            Some(Ok(_)) => lines.run(()),
        }
        };
        view! {
            <div class=format!("table-wrap card {class}").trim_end().to_string()>
                <table
                    class=move || format!("table table-compact {}", hidden.with(hiding_classes))
                    data-testid=testid
                    aria-busy=move || (busy.get() || keys.run(()).is_none()).to_string()
                >
                    <thead>
                        <tr>
                            {selection.map(|s| view! {
                                <th class="grid-check"><SelectRows keys=keys selected=s label=select_label /></th>
                            })}
                            {columns.iter().map(|c| header(c, sort, on_sort)).collect_view()}
                        </tr>
                    </thead>
                    <tbody>{body}</tbody>
                </table>
            </div>
            {children.map(|c| c())}
        }
    }
}

/// A column's header: a button that sorts by it (again: the other way), `aria-sort`
/// saying how the grid is sorted; just its label where the column does not sort.
fn header(
    c: &'static GridColumn,
    sort: Read<(&'static str, bool)>,
    on_sort: Callback<&'static str>,
) -> impl IntoView {
    let sorted = move || {
        let (by, desc) = sort.run(());
        (c.sort == Some(by)).then_some(desc)
    };
    let class = move || match sorted() {
        Some(false) => "sortable sort-asc",
        Some(true) => "sortable sort-desc",
        None if c.sort.is_some() => "sortable",
        None => "",
    };
    // "none" also where the column does not sort: the grid is not sorted by it.
    let aria = move || match sorted() {
        Some(false) => "ascending",
        Some(true) => "descending",
        None => "none",
    };
    let button = c.sort.map(|prop| {
        view! { <button class="btn-link grid-sort" on:click=move |_| on_sort.run(prop)>{c.label}</button> }
    });
    let text = c.sort.is_none().then_some(c.label);
    view! { <th class=class aria-sort=aria data-col=c.key>{button}{text}</th> }
}

/// The header's checkbox: checked when every row shown is selected, `indeterminate`
/// when some are; it selects them all, or clears them.
#[component]
fn SelectRows(keys: Keys, selected: Selection, label: &'static str) -> impl IntoView {
    let ids = move || keys.run(()).and_then(Result::ok).unwrap_or_default();
    let state = Signal::derive(move || {
        let ids = ids();
        let chosen = selected.with(|s| ids.iter().filter(|(id, _)| s.contains_key(id)).count());
        Selected::of(chosen, ids.len())
    });
    let toggle = Callback::new(move |all: bool| {
        let ids = ids();
        selected.update(|s| {
            for (id, name) in ids {
                if all {
                    s.insert(id, name);
                } else {
                    s.shift_remove(&id);
                }
            }
        });
    });
    view! {
        <SelectAll
            label=label
            state=state
            on_change=toggle
            disabled=Signal::derive(move || ids().is_empty())
        />
    }
}

/// One row: its checkbox (with a selection), then the page's cells.
fn row(id: String, name: String, cells: AnyView, selection: Option<Selection>) -> impl IntoView {
    let is_selected = {
        let id = id.clone();
        move || selection.is_some_and(|s| s.with(|s| s.contains_key(&id)))
    };
    let check = selection.map(|selected| {
        let checked = is_selected.clone();
        let id = id.clone();
        let label = format!("Select {name}");
        let toggle = move |_| {
            let (id, name) = (id.clone(), name.clone());
            selected.update(|s| {
                if s.shift_remove(&id).is_none() {
                    s.insert(id, name);
                }
            });
        };
        view! {
            <td class="grid-check">
                <input type="checkbox" aria-label=label prop:checked=checked on:change=toggle />
            </td>
        }
    });
    view! {
        <tr class:is-selected=is_selected data-id=id>
            {check}
            {cells}
        </tr>
    }
}
