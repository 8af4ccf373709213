//! Brute-force protection of sign-in: failed attempts are counted per account (the
//! user name as typed, lower-cased, so unknown names count too) and per client
//! address. A few failures are free; past them every further failure locks that
//! account or address out for a delay that doubles each time (1 s, 2 s, 4 s ... at most
//! 15 minutes), during which every attempt, right password or not, is answered 429 with
//! `Retry-After` without checking the password (so a locked answer says nothing about
//! the password either). Counts are forgotten 15 minutes after the last failure.
//!
//! A successful sign-in is never slowed and clears its account's count, but not its
//! address's: one valid account must not let an attacker reset the address's count
//! between guesses at other accounts.
//!
//! The counters live in memory (a restart forgets them) and are bounded: past
//! `MAX_TRACKED` entries the quiet ones are dropped, then the oldest.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures an account may have before the delays start.
pub const FREE_PER_ACCOUNT: u32 = 5;
/// Failures one client address may have (over any accounts) before the delays start.
pub const FREE_PER_ADDRESS: u32 = 20;
/// The longest delay.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// How long a count is kept after the last failure.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Entries kept at most (accounts and addresses together).
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// The counters (one per server).
#[derive(Debug, Default)]
pub struct LoginGuard {
    records: Mutex<HashMap<Key, Record>>,
}

/// Why a sign-in may not be tried now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    /// Whole seconds until it may be tried again (at least 1).
    pub retry_after: u64,
}

/// One key per account whichever way its name is typed: the UPN `nestor@contoso.com`
/// and the short `nestor` sign in to the same user, so they count the same failures
/// (two users of one short name in different domains share a key: stricter, never
/// looser).
fn account(name: &str) -> Key {
    let name = name.trim().to_lowercase();
    let short = name.split('@').next().unwrap_or_default();
    Key::Account(short.to_string())
}

fn delay(failures: u32, free: u32) -> Option<Duration> {
    let over = failures.checked_sub(free)?;
    if over == 0 {
        return None;
    }
    let secs = 1u64.checked_shl(over - 1).unwrap_or(u64::MAX);
    Some(Duration::from_secs(secs).min(MAX_DELAY))
}

impl LoginGuard {
    /// Whether a sign-in of `name` from `addr` may be tried at `now`.
    pub fn check(&self, name: &str, addr: Option<IpAddr>, now: Instant) -> Result<(), Locked> {
        self.check_keys(keys(name, addr), now)
    }

    /// Whether `addr` may try again what has no account: a mailbox sign-in's state
    /// (`webapi::signin`).
    pub fn check_address(&self, addr: IpAddr, now: Instant) -> Result<(), Locked> {
        self.check_keys(std::iter::once(Key::Address(addr)), now)
    }

    /// Records a failure of `addr` alone (an unknown or finished sign-in state).
    pub fn failed_address(&self, addr: IpAddr, now: Instant) {
        self.fail_keys(std::iter::once(Key::Address(addr)), now);
    }

    fn check_keys(&self, keys: impl Iterator<Item = Key>, now: Instant) -> Result<(), Locked> {
        let records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = Duration::ZERO;
        for key in keys {
            if let Some(until) = records.get(&key).and_then(|r| r.locked_until) {
                wait = wait.max(until.saturating_duration_since(now));
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            Err(Locked {
                retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
            })
        }
    }

    /// Records a failed sign-in.
    pub fn failed(&self, name: &str, addr: Option<IpAddr>, now: Instant) {
        self.fail_keys(keys(name, addr), now);
    }

    fn fail_keys(&self, keys: impl Iterator<Item = Key>, now: Instant) {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if records.len() >= MAX_TRACKED {
            prune(&mut records, now);
        }
        for key in keys {
            let free = match key {
                Key::Account(_) => FREE_PER_ACCOUNT,
                Key::Address(_) => FREE_PER_ADDRESS,
            };
            let r = records.entry(key).or_insert(Record {
                failures: 0,
                last: now,
                locked_until: None,
            });
            if now.duration_since(r.last) >= FORGET_AFTER {
                r.failures = 0;
            }
            r.failures = r.failures.saturating_add(1);
            r.last = now;
            r.locked_until = delay(r.failures, free).map(|d| now + d);
        }
    }

    /// Records a successful sign-in: the account starts afresh (its address does not).
    pub fn succeeded(&self, name: &str) {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        records.remove(&account(name));
    }
}

fn keys(name: &str, addr: Option<IpAddr>) -> impl Iterator<Item = Key> {
    std::iter::once(account(name)).chain(addr.map(Key::Address))
}

/// Drops the records that have been quiet for `FORGET_AFTER`, then, if still full, the
/// oldest half.
fn prune(records: &mut HashMap<Key, Record>, now: Instant) {
    records.retain(|_, r| now.duration_since(r.last) < FORGET_AFTER);
    if records.len() >= MAX_TRACKED {
        let mut lasts: Vec<Instant> = records.values().map(|r| r.last).collect();
        lasts.sort_unstable();
        let cut = lasts[lasts.len() / 2];
        records.retain(|_, r| r.last > cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_after_the_free_failures_and_success_is_not_slowed() {
        let g = LoginGuard::default();
        let t0 = Instant::now();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..FREE_PER_ACCOUNT {
            assert!(g.check("Ann", Some(ip), t0).is_ok());
            g.failed("Ann", Some(ip), t0);
        }
        // The free failures are used up: the next one locks for 1 s, then 2 s, 4 s.
        assert!(g.check("ann", Some(ip), t0).is_ok());
        g.failed("ann", Some(ip), t0);
        assert_eq!(g.check("ANN", None, t0), Err(Locked { retry_after: 1 }));
        // The same account by its UPN is the same account.
        assert_eq!(
            g.check("ann@contoso.com", None, t0),
            Err(Locked { retry_after: 1 })
        );
        let t1 = t0 + Duration::from_secs(1);
        assert!(g.check("ann", None, t1).is_ok());
        g.failed("ann", None, t1);
        assert_eq!(g.check("ann", None, t1), Err(Locked { retry_after: 2 }));
        let t2 = t1 + Duration::from_secs(2);
        g.failed("ann", None, t2);
        assert_eq!(g.check("ann", None, t2), Err(Locked { retry_after: 4 }));
        // Another account from another address is not affected.
        assert!(g.check("bob", None, t2).is_ok());
        // A success clears the account.
        g.succeeded("ann");
        assert!(g.check("ann", None, t2).is_ok());
        // Forgotten after a quiet quarter of an hour.
        for _ in 0..10 {
            g.failed("cid", None, t2);
        }
        assert!(g.check("cid", None, t2).is_err());
        let later = t2 + FORGET_AFTER + MAX_DELAY;
        assert!(g.check("cid", None, later).is_ok());
        g.failed("cid", None, later);
        assert!(
            g.check("cid", None, later).is_ok(),
            "the count started again"
        );
    }

    #[test]
    fn an_address_guessing_many_accounts_is_slowed() {
        let g = LoginGuard::default();
        let t = Instant::now();
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        for i in 0..FREE_PER_ADDRESS {
            assert!(g.check(&format!("user{i}"), Some(ip), t).is_ok());
            g.failed(&format!("user{i}"), Some(ip), t);
        }
        assert!(g.check("fresh", Some(ip), t).is_ok());
        g.failed("fresh", Some(ip), t);
        assert!(g.check("another", Some(ip), t).is_err());
        assert!(
            g.check("another", None, t).is_ok(),
            "other addresses are free"
        );
        // A success on one account does not reset the address.
        g.succeeded("fresh");
        assert!(g.check("another", Some(ip), t).is_err());
    }

    #[test]
    fn the_delay_is_capped() {
        assert_eq!(delay(3, 5), None);
        assert_eq!(delay(5, 5), None);
        assert_eq!(delay(6, 5), Some(Duration::from_secs(1)));
        assert_eq!(delay(15, 5), Some(Duration::from_secs(512)));
        assert_eq!(delay(16, 5), Some(MAX_DELAY));
        assert_eq!(delay(u32::MAX, 5), Some(MAX_DELAY));
    }
}
