//! Components shared by the pages, one file each:
//!
//! - [`dialog::Dialog`]: every dialog of the console (focus in, Tab kept inside,
//!   Escape, focus back); [`confirm::Confirm`]: a yes/no question built on it
//! - [`pager::Pager`]: Previous / "Page N of M" / Next
//! - [`selection::SelectAll`]: a grid's select-all checkbox (all / none / some)
//! - [`progress::Progress`]: a progress bar and its line
//! - [`columns`]: a grid's chosen columns; [`download`]: files the console saves
//! - [`focus`]: moving focus (the shell and the dialog)

pub mod columns;
pub mod confirm;
pub mod dialog;
pub mod download;
pub mod focus;
pub mod pager;
pub mod progress;
pub mod selection;

pub use confirm::Confirm;
pub use dialog::Dialog;
pub use pager::Pager;
pub use progress::Progress;
pub use selection::{SelectAll, Selected};
