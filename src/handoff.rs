//! Logs handed from one page to the Log Analyzer: Mailboxes' "Download Mailbox
//! Details" puts the downloaded text here and navigates to `/analyzer`, which takes
//! it on load. In memory only; nothing is stored.

use std::cell::RefCell;

thread_local! {
    static PENDING: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

/// Queues a log (`name`, `text`) for the analyzer's next load.
pub fn give(name: String, text: String) {
    PENDING.with(|p| p.borrow_mut().push((name, text)));
}

/// Takes every queued log.
pub fn take() -> Vec<(String, String)> {
    PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()))
}
