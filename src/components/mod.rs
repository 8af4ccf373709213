//! Components shared by the pages: [`dialog::Dialog`] (every dialog of the console) and
//! the focus helpers the shell and the dialog use.

pub mod dialog;
pub mod focus;

pub use dialog::Dialog;
