//! One module per console area.

pub mod analyzer;
pub mod not_yet;
pub mod signin;
