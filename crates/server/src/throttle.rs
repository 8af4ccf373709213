//! Dataverse's service protection limits, per signed-in user: at most
//! `max_requests` requests in a sliding window (Dataverse: 6,000 in 5 minutes) and
//! `max_concurrent` requests at the same time (Dataverse: 52). A request over a limit
//! is answered 429 with `Retry-After` (seconds) and Dataverse's error shape and code:
//!
//! * `0x80072322` "Number of requests exceeded the limit of N over time window of S
//!   seconds." (`Retry-After`: until the oldest request of the window leaves it);
//! * `0x80072326` "Number of concurrent requests exceeded the limit of N."
//!   (`Retry-After: 1`);
//! * `0x80072321` "Combined execution time of incoming requests exceeded limit of N
//!   milliseconds over time window of S seconds." (Dataverse: 20 minutes of server time
//!   in 5 minutes; `Retry-After`: until enough of the window's time has left it). A
//!   request's time counts from when it is admitted until its answer is ready.
//!
//! A `$batch` is one request, as in Dataverse, whatever it holds. Refused requests do
//! not count. The limits are `mailsync serve --max-requests-per-5min N
//! --max-concurrent N --max-execution-time SECS` (and `--throttle-window SECS` for
//! tests); sign-in itself is not limited here (it runs before a user is known).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::CurrentUser;
use crate::error::ApiError;
use crate::state::AppState;

/// Number of requests over the time window.
pub const REQUESTS_EXCEEDED: &str = "0x80072322";
/// Number of concurrent requests.
pub const CONCURRENCY_EXCEEDED: &str = "0x80072326";
/// Combined execution time over the time window.
pub const EXECUTION_TIME_EXCEEDED: &str = "0x80072321";

/// The limits in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_requests: u32,
    pub window: Duration,
    pub max_concurrent: u32,
    /// Server time a user's requests may take in the window.
    pub max_execution: Duration,
}

impl Default for Limits {
    /// Dataverse's: 6,000 requests and 20 minutes of execution time in 5 minutes, 52
    /// at once.
    fn default() -> Self {
        Limits {
            max_requests: 6000,
            window: Duration::from_secs(300),
            max_concurrent: 52,
            max_execution: Duration::from_secs(1200),
        }
    }
}

#[derive(Default)]
struct Load {
    recent: VecDeque<Instant>,
    active: u32,
    /// Finished requests in the window: when each ended and how long it ran.
    spent: VecDeque<(Instant, Duration)>,
    spent_total: Duration,
}

impl Load {
    fn forget_before(&mut self, now: Instant, window: Duration) {
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.recent.pop_front();
        }
        while let Some(&(end, took)) = self.spent.front() {
            if now.duration_since(end) < window {
                break;
            }
            self.spent.pop_front();
            self.spent_total = self.spent_total.saturating_sub(took);
        }
    }

    /// How long until the window's execution time is under `max` again.
    fn execution_wait(&self, now: Instant, window: Duration, max: Duration) -> Duration {
        let mut left = self.spent_total;
        for &(end, took) in &self.spent {
            left = left.saturating_sub(took);
            if left < max {
                return window.saturating_sub(now.duration_since(end));
            }
        }
        window
    }
}

/// The per-user counters.
pub struct Throttle {
    limits: Limits,
    users: Mutex<HashMap<String, Load>>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("limits", &self.limits)
            .finish()
    }
}

/// A request in progress: leaving frees its concurrency slot and counts its time.
pub struct Slot {
    throttle: Arc<Throttle>,
    user: String,
    started: Instant,
    left: bool,
}

impl Slot {
    /// The request's answer is ready at `end`.
    pub fn leave_at(mut self, end: Instant) {
        self.record(end);
    }

    fn record(&mut self, end: Instant) {
        if std::mem::replace(&mut self.left, true) {
            return;
        }
        if let Ok(mut users) = self.throttle.users.lock() {
            if let Some(l) = users.get_mut(&self.user) {
                l.active = l.active.saturating_sub(1);
                let took = end.saturating_duration_since(self.started);
                l.spent.push_back((end, took));
                l.spent_total += took;
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.record(Instant::now());
    }
}

/// Why a request was refused, and after how many seconds to retry.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
    pub retry_after: u64,
}

impl Throttle {
    pub fn new(limits: Limits) -> Arc<Throttle> {
        Arc::new(Throttle {
            limits,
            users: Mutex::new(HashMap::new()),
        })
    }

    /// Admits a request of `user` at `now`, or says why not.
    pub fn enter(self: &Arc<Self>, user: &str, now: Instant) -> Result<Slot, Refusal> {
        let l = self.limits;
        let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        let load = users.entry(user.to_string()).or_default();
        load.forget_before(now, l.window);
        if load.active >= l.max_concurrent {
            return Err(Refusal {
                code: CONCURRENCY_EXCEEDED,
                message: format!(
                    "Number of concurrent requests exceeded the limit of {}.",
                    l.max_concurrent
                ),
                retry_after: 1,
            });
        }
        if load.recent.len() >= l.max_requests as usize {
            let oldest = load.recent.front().copied().unwrap_or(now);
            let wait = l.window.saturating_sub(now.duration_since(oldest));
            return Err(Refusal {
                code: REQUESTS_EXCEEDED,
                message: format!(
                    "Number of requests exceeded the limit of {} over time window of {} seconds.",
                    l.max_requests,
                    l.window.as_secs()
                ),
                retry_after: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            });
        }
        if load.spent_total >= l.max_execution {
            let wait = load.execution_wait(now, l.window, l.max_execution);
            return Err(Refusal {
                code: EXECUTION_TIME_EXCEEDED,
                message: format!(
                    "Combined execution time of incoming requests exceeded limit of {} \
                     milliseconds over time window of {} seconds. Decrease number of \
                     concurrent requests or reduce the duration of requests and try again \
                     later.",
                    l.max_execution.as_millis(),
                    l.window.as_secs()
                ),
                retry_after: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            });
        }
        load.recent.push_back(now);
        load.active += 1;
        Ok(Slot {
            throttle: Arc::clone(self),
            user: user.to_string(),
            started: now,
            left: false,
        })
    }
}

/// Middleware (inside `auth::require_user`): applies the limits to the signed-in user.
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(user) = request
        .extensions()
        .get::<CurrentUser>()
        .map(|u| u.0.systemuserid.clone())
    else {
        return next.run(request).await;
    };
    match state.throttle.enter(&user, Instant::now()) {
        Ok(slot) => {
            let resp = next.run(request).await;
            slot.leave_at(Instant::now());
            resp
        }
        Err(r) => {
            let mut resp =
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, r.code, r.message).into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(r.retry_after));
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sliding_window_and_concurrency() {
        let t = Throttle::new(Limits {
            max_requests: 3,
            window: Duration::from_secs(10),
            max_concurrent: 2,
            max_execution: Duration::from_secs(3600),
        });
        let t0 = Instant::now();
        let a = t.enter("u", t0).unwrap();
        let b = t.enter("u", t0).unwrap();
        let refused = t.enter("u", t0).err().unwrap();
        assert_eq!(refused.code, CONCURRENCY_EXCEEDED);
        assert_eq!(refused.retry_after, 1);
        // Another user has their own limits.
        drop(t.enter("v", t0).unwrap());
        drop(a);
        drop(b);
        drop(t.enter("u", t0 + Duration::from_secs(4)).unwrap());
        let refused = t.enter("u", t0 + Duration::from_secs(5)).err().unwrap();
        assert_eq!(refused.code, REQUESTS_EXCEEDED);
        assert_eq!(refused.retry_after, 5);
        assert!(refused
            .message
            .contains("limit of 3 over time window of 10 seconds"));
        // The first two leave the window at t0 + 10 s.
        drop(t.enter("u", t0 + Duration::from_secs(10)).unwrap());
    }

    #[test]
    fn combined_execution_time() {
        let t = Throttle::new(Limits {
            max_requests: 100,
            window: Duration::from_secs(10),
            max_concurrent: 10,
            max_execution: Duration::from_secs(3),
        });
        let t0 = Instant::now();
        let s = |n: u64| t0 + Duration::from_secs(n);
        // Two requests of 2 s each: 4 s of the 3 s allowed.
        t.enter("u", s(0)).unwrap().leave_at(s(2));
        let second = t.enter("u", s(1)).unwrap();
        // Under the limit while only 2 s are spent.
        t.enter("u", s(2)).unwrap().leave_at(s(2));
        second.leave_at(s(3));
        let refused = t.enter("u", s(4)).err().unwrap();
        assert_eq!(refused.code, EXECUTION_TIME_EXCEEDED);
        assert!(refused
            .message
            .contains("exceeded limit of 3000 milliseconds over time window of 10 seconds"));
        // The first (ended at 2 s) leaves the window at 12 s, and 2 s remain.
        assert_eq!(refused.retry_after, 8);
        // Someone else is not affected.
        drop(t.enter("v", s(4)).unwrap());
        assert!(t.enter("u", s(11)).is_err());
        t.enter("u", s(12)).unwrap().leave_at(s(12));
    }
}
