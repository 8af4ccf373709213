//! What every handler shares: the organization's store, the service protection
//! counters and this server's security settings.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::guard::LoginGuard;
use crate::store::Store;

/// Shared state of the API handlers.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    /// Per-user service protection limits (`throttle`).
    pub throttle: Arc<crate::throttle::Throttle>,
    pub security: Arc<Security>,
}

/// How this server protects its sessions (see ARCHITECTURE.md, "Security").
#[derive(Debug)]
pub struct Security {
    /// Served over TLS: the session cookie is `Secure` with the `__Host-` prefix.
    pub tls: bool,
    /// A session unused for this long has ended (it also ends 8 hours after sign-in).
    pub session_idle: Duration,
    /// Failed sign-ins per account and per client address.
    pub logins: LoginGuard,
    /// `--oidc-issuer`: bearer JWTs of that issuer are accepted too.
    pub oidc: Option<Arc<crate::oidc::Oidc>>,
}

impl Security {
    /// Loopback defaults: plain HTTP, 30 minutes of idle time.
    pub fn new(tls: bool, session_idle: Duration) -> Security {
        Security {
            tls,
            session_idle,
            logins: LoginGuard::default(),
            oidc: None,
        }
    }
}
