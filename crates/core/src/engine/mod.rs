//! The rules of the synchronization engine, as server-side synchronization applies them
//! (seeds 000-003 and `shared/reference/dataverse-model.md`), as pure functions over a
//! mailbox's state. The server's `engine` does the I/O (mail servers, SQLite, the
//! clock) and asks these functions what to do next and what a result means, so the
//! rules are written once and tested without a network.
//!
//! One pass over a mailbox:
//!
//! 1. [`schedule::work`]: is anything due now, a Test & Enable or a sync cycle, and
//!    which directions run in it (a direction runs when its own postpone value is at
//!    or before `postponemailboxprocessinguntil`);
//! 2. [`protocol::plan`]: for each direction, the protocol, server, security and
//!    credentials the profile and the mailbox give (or why there are none);
//! 3. the server connects and reports a [`DirectionResult`] per direction;
//! 4. [`cycle::finish_sync`] / [`cycle::finish_test`]: the mailbox's new state, and
//!    the [`Event`]s (errors, classified by [`failure::describe`] through core's
//!    knowledge base, and test outcomes);
//! 5. [`alerts::plan`]: the alerts those events write, on which records, under the
//!    organization's alert settings.

pub mod act;
pub mod alerts;
pub mod cycle;
pub mod failure;
pub mod prompt;
pub mod protocol;
pub mod schedule;
mod state;

pub use state::*;
