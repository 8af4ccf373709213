//! Where the engine's time comes from. `serve` runs on the system clock and looks at
//! the schedule every second; tests run on a `ManualClock` they move themselves, so ten
//! retries five minutes apart take milliseconds.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use mailsync_core::Timestamp;

pub type Tick<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
    /// Waits until the engine should look at the schedule again.
    fn tick(&self) -> Tick<'_>;
}

/// The system's clock.
pub struct SystemClock {
    pub period: Duration,
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        crate::store::now()
    }

    fn tick(&self) -> Tick<'_> {
        Box::pin(tokio::time::sleep(self.period))
    }
}

/// A clock that moves only when told to.
#[allow(dead_code)] // the engine's tests and benchmarks drive it
pub struct ManualClock {
    now: AtomicI64,
    moved: tokio::sync::Notify,
}

#[allow(dead_code)]
impl ManualClock {
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock {
            now: AtomicI64::new(start.0),
            moved: tokio::sync::Notify::new(),
        }
    }

    pub fn advance(&self, secs: i64) {
        self.now.fetch_add(secs, Ordering::SeqCst);
        self.moved.notify_waiters();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.now.load(Ordering::SeqCst))
    }

    fn tick(&self) -> Tick<'_> {
        Box::pin(self.moved.notified())
    }
}
