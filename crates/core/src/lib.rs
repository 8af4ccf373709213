//! mailsync-core: the logic shared by the console (wasm32), the server and the CLI.
//! No I/O here: callers hand in bytes and the current time, and get plain data back.
//! A log is judged against that time only while its latest entry is less than 24 hours
//! old; an older log is judged as of its latest entry, and the report says which
//! ([`AsOf`]).
//!
//! Pipeline of the log analyzer: [`decode`] bytes to text, [`parse`] text to fields and
//! trace entries, [`diagnose`] those to a [`Report`] using [`classify`] (over the [`kb`]
//! knowledge base) and [`rules`]; [`fleet`] summarizes many reports, [`export`] writes
//! them out.
//!
//! The local organization's entity model is [`model`] (tables as data); [`odata`] parses
//! and checks Web API queries against it.

pub mod classify;
pub mod decode;
pub mod diagnose;
pub mod email_settings;
pub mod engine;
pub mod export;
pub mod extract;
pub mod fleet;
pub mod kb;
pub mod metadata;
pub mod model;
pub mod oauth;
pub mod odata;
pub mod options;
pub mod parse;
pub mod report;
pub mod rng;
pub mod rules;
pub mod synth;
pub mod time;
pub mod url;
pub mod words;
pub mod writer;

pub use diagnose::{analyze, analyze_text, RETRY_LIMIT};
pub use fleet::{summarize, FleetGroup, FleetSummary};
pub use report::*;
pub use time::Timestamp;
