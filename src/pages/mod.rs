//! One module per console area.

pub mod alerts;
pub mod analyzer;
pub mod dashboard;
pub mod mailboxes;
pub mod profiles;
pub mod settings;
pub mod signin;
