//! Components shared by the pages: [`dialog::Dialog`] (every dialog of the console), the
//! focus helpers the shell and the dialog use, [`columns`] (a grid's chosen columns) and
//! [`download`] (files the console saves).

pub mod columns;
pub mod dialog;
pub mod download;
pub mod focus;

pub use dialog::Dialog;
