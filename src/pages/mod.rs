//! One module per console area.

pub mod alerts;
pub mod analyzer;
pub mod mailboxes;
pub mod not_yet;
pub mod profiles;
pub mod settings;
pub mod signin;
