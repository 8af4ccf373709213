//! Components shared by the pages, one file each:
//!
//! - [`dialog::Dialog`]: every dialog of the console (focus in, Tab kept inside,
//!   Escape, focus back); [`confirm::Confirm`]: a yes/no question built on it
//! - [`grid::DataGrid`]: a grid of records (chosen columns, sort, selection, states,
//!   pager under it); [`columns`]: its columns, the chooser and the hidden set
//! - [`pager::Pager`]: Previous / "Page N of M" / Next
//! - [`selection::SelectAll`]: a grid's select-all checkbox (all / none / some)
//! - [`run::RunPanel`]: a bulk run's progress, per-item results and retry
//! - [`progress::Progress`]: a progress bar and its line
//! - [`error::ErrorNote`]: an error the user should read (optionally dismissable)
//! - [`download`]: files the console saves; [`focus`]: moving focus (the shell and
//!   the dialog)

pub mod columns;
pub mod confirm;
pub mod dialog;
pub mod download;
pub mod error;
pub mod focus;
pub mod grid;
pub mod pager;
pub mod progress;
pub mod run;
pub mod selection;

pub use confirm::Confirm;
pub use dialog::Dialog;
pub use error::ErrorNote;
pub use pager::Pager;
pub use progress::Progress;
pub use selection::{SelectAll, Selected};
