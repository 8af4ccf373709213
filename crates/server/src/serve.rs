//! `mailsync serve`: the local organization (the API under `/api`, on a SQLite file)
//! and the built console.
//!
//! At start it opens (creating or upgrading) the database, and creates the organization
//! when the file has none: the `admin` user and, with `--seed`, demo or scale data. A
//! database that already holds an organization is never seeded again.
//!
//! Serves the files of a Trunk `dist/` directory. Any request for a path that is not
//! a file and does not look like one (no extension in its last segment) gets
//! `index.html`, so client-side routes such as `/analyzer` survive a reload.
//! Missing assets (`/x.js`) are a plain 404, not HTML, so broken builds fail loudly.
//! Files go out in their precompressed `.br`/`.gz` variants when the browser takes them,
//! hashed names cached for a year, the page revalidated by its ETag (`crate::assets`).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::services::ServeDir;

use crate::api;
use crate::assets;
use crate::boundary::{self, Boundary};
use crate::engine::{Engine, EngineArgs, Switch, SystemClock};
use crate::listen;
use crate::state::{AppState, Security};
use crate::store::secrets;
use crate::store::seed::{self, Outcome, SeedKind};
use crate::store::{self as db, Store};
use crate::throttle::{Limits, Throttle};
use crate::webapi::signin::{self, SignIn};

/// Environment variable naming the default console directory.
pub const DIST_ENV: &str = "MAILSYNC_DIST";
/// Environment variable holding the `admin` password of a new organization.
pub const ADMIN_PASSWORD_ENV: &str = "MAILSYNC_ADMIN_PASSWORD";

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub bind: IpAddr,
    /// Port to listen on (0 picks a free port; the chosen one is printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Directory holding the built console (default: $MAILSYNC_DIST, else ./dist).
    #[arg(long, value_name = "DIR")]
    pub dist: Option<PathBuf>,
    /// The organization's SQLite file, created when missing (default: $MAILSYNC_DB, else
    /// $XDG_DATA_HOME/mailsync/mailsync.sqlite or ~/.local/share/mailsync/mailsync.sqlite,
    /// else ./mailsync.sqlite).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Data for a new organization: `demo` (about 300 mailboxes in mixed states) or
    /// `scale:N` (N mailboxes, about 10 alerts each). Ignored when the database already
    /// holds an organization: nothing is ever overwritten.
    #[arg(long, value_name = "KIND")]
    pub seed: Option<SeedKind>,
    /// Service protection: requests per user in the sliding window (Dataverse: 6000 in
    /// 5 minutes); more are answered 429 with Retry-After. A $batch counts as one.
    #[arg(long = "max-requests-per-5min", value_name = "N", default_value_t = 6000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_requests: u32,
    /// Service protection: concurrent requests per user (Dataverse: 52).
    #[arg(long, value_name = "N", default_value_t = 52,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent: u32,
    /// Service protection: seconds of server time per user's requests in the sliding
    /// window (Dataverse: 20 minutes in 5 minutes).
    #[arg(long, value_name = "SECS", default_value_t = 1200,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_execution_time: u64,
    /// The sliding window of the service protection limits, in seconds (tests shorten
    /// it).
    #[arg(long, value_name = "SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub throttle_window: u64,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key. The session
    /// cookie is then `Secure` (`__Host-mailsync_session`).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// A name this server is reached by, besides the loopback names and the --bind
    /// address (repeatable); requests for any other Host are refused (DNS rebinding).
    #[arg(long = "public-host", value_name = "NAME")]
    pub public_hosts: Vec<String>,
    /// An origin the console may connect to besides this server, Microsoft Entra ID and
    /// Dataverse (`https://login.microsoftonline.us`, a proxy...; repeatable): the
    /// Content-Security-Policy's connect-src.
    #[arg(long = "connect-src", value_name = "ORIGIN")]
    pub connect_src: Vec<String>,
    /// Seconds without a request after which a session ends (it ends 8 hours after
    /// sign-in in any case).
    #[arg(long, value_name = "SECS", default_value_t = 1800,
          value_parser = clap::value_parser!(u64).range(2..=28_800))]
    pub session_idle_timeout: u64,
    /// Connections open at once; more wait until one closes.
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub max_connections: u64,
    /// Seconds a client has to send a request's headers (and the TLS handshake); also
    /// how long an idle keep-alive connection is kept.
    #[arg(long, value_name = "SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_read_timeout: u64,
    /// Seconds a request, its body included, may take to be answered.
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout: u64,
    /// Seconds a connection may go without a byte moving either way (at least the
    /// request timeout).
    #[arg(long, value_name = "SECS", default_value_t = 90,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub idle_timeout: u64,
    /// OpenID Connect mode: accept bearer access tokens (JWTs) of this issuer (its
    /// discovery document and keys are read from it), e.g.
    /// https://login.microsoftonline.com/<tenant>/v2.0; needs --oidc-audience.
    #[arg(long, value_name = "URL", requires = "oidc_audiences")]
    pub oidc_issuer: Option<String>,
    /// The audience a token must name (this organization's URI, or an application id);
    /// repeatable.
    #[arg(long = "oidc-audience", value_name = "URI", requires = "oidc_issuer")]
    pub oidc_audiences: Vec<String>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Threads of tokio's blocking pool (see `run`); `store::POOL_IDLE` keeps as many
/// connections.
const BLOCKING_THREADS: usize = 24;

/// Runs the server until Ctrl-C / SIGTERM. Errors are reported on stderr.
pub fn run(args: ServeArgs) -> ExitCode {
    let dist = resolve_dist(args.dist, std::env::var_os(DIST_ENV).map(PathBuf::from));
    if let Err(msg) = check_dist(&dist) {
        eprintln!("mailsync serve: {msg}");
        return ExitCode::FAILURE;
    }
    let store = match open_organization(args.db, args.seed) {
        Ok(store) => store,
        Err(msg) => {
            eprintln!("mailsync serve: {msg}");
            return ExitCode::FAILURE;
        }
    };
    // The blocking pool runs the database calls (and name lookups). SQLite writes one
    // at a time and this machine has few cores: past a few dozen threads, more only
    // opened connections and kept allocator heaps alive (the engine's 100 concurrent
    // passes held 400 MB).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mailsync serve: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let limits = Limits {
        max_requests: args.max_requests,
        window: std::time::Duration::from_secs(args.throttle_window),
        max_concurrent: args.max_concurrent,
        max_execution: std::time::Duration::from_secs(args.max_execution_time),
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => match listen::tls_config(cert, key) {
            Ok(c) => Some(c),
            Err(msg) => {
                eprintln!("mailsync serve: {msg}");
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    if tls.is_none() && !is_loopback(args.bind) {
        eprintln!(
            "mailsync serve: WARNING: listening on {} without TLS. Passwords, session \
             cookies and the organization's mail settings will cross the network in clear; \
             give --tls-cert and --tls-key, or put a TLS proxy in front and --bind 127.0.0.1.",
            args.bind
        );
    }
    let net = listen::Limits {
        max_connections: args.max_connections as usize,
        header_read_timeout: std::time::Duration::from_secs(args.header_read_timeout),
        request_timeout: std::time::Duration::from_secs(args.request_timeout),
        idle_timeout: std::time::Duration::from_secs(args.idle_timeout.max(args.request_timeout)),
    };
    let boundary = Boundary::new(
        args.bind,
        &args.public_hosts,
        tls.is_some(),
        &args.connect_src,
    );
    let mut security = Security::new(
        tls.is_some(),
        std::time::Duration::from_secs(args.session_idle_timeout),
    );
    if let Some(issuer) = &args.oidc_issuer {
        // The issuer is reached with the same trust as the mail servers (--trust-ca).
        let trust = match crate::mail::Tls::new(&args.engine.trust_ca) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("mailsync serve: {e}");
                return ExitCode::FAILURE;
            }
        };
        let t = std::time::Duration::from_secs(10);
        security.oidc = Some(Arc::new(crate::oidc::Oidc::new(
            issuer,
            &args.oidc_audiences,
            trust,
            crate::mail::Timeouts { connect: t, io: t },
        )));
        eprintln!("mailsync serve: accepting bearer tokens of {issuer}");
    }
    let sign_in = match sign_in(&store, &args.engine, tls.is_some()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mailsync serve: {e}");
            return ExitCode::FAILURE;
        }
    };
    let site = Site {
        dist,
        store,
        limits,
        boundary,
        security,
        request_timeout: net.request_timeout,
        sign_in,
    };
    let addr = SocketAddr::new(args.bind, args.port);
    match runtime.block_on(serve(addr, site, net, tls, args.engine)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("mailsync serve: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// What a mailbox's sign-in to its mail provider needs (`webapi::signin`): the
/// providers and the trust and time limits the engine reaches them with.
fn sign_in(store: &Store, engine: &EngineArgs, https: bool) -> Result<SignIn, String> {
    let t = std::time::Duration::from_secs(engine.mail_timeout);
    Ok(SignIn {
        store: store.clone(),
        providers: Arc::new(crate::mail::delegated::Providers::new(
            &engine.google_authority,
            &engine.entra_authority,
        )),
        tls: crate::mail::Tls::new(&engine.trust_ca)?,
        timeouts: crate::mail::Timeouts { connect: t, io: t },
        https,
        security: None,
    })
}

/// `--dist` wins, then `$MAILSYNC_DIST`, then `./dist`.
fn resolve_dist(flag: Option<PathBuf>, env: Option<PathBuf>) -> PathBuf {
    flag.or(env.filter(|p| !p.as_os_str().is_empty()))
        .unwrap_or_else(|| PathBuf::from("dist"))
}

/// Opens the database and creates the organization if it has none. Messages go to
/// stderr: stdout's first line is the address banner scripts wait for.
fn open_organization(db: Option<PathBuf>, seed: Option<SeedKind>) -> Result<Store, String> {
    let path = db.unwrap_or_else(|| db::default_db_path(|k| std::env::var(k).ok()));
    let store = Store::open(&path).map_err(|e| e.to_string())?;
    let password = std::env::var(ADMIN_PASSWORD_ENV)
        .ok()
        .filter(|p| !p.is_empty());
    let started = std::time::Instant::now();
    let outcome = store
        .with_conn(|c| {
            seed::initialize(
                c,
                seed.unwrap_or(SeedKind::Empty),
                password.as_deref(),
                db::now(),
            )
        })
        .map_err(|e| format!("cannot create the organization in {}: {e}", path.display()))?;
    match outcome {
        Outcome::Existing => {
            eprintln!("mailsync serve: organization database {}", path.display());
            warn_unopenable_passwords(&store, &path);
            if seed.is_some() {
                eprintln!(
                    "mailsync serve: the database already holds an organization; \
                     --seed ignored (nothing was changed)"
                );
            }
        }
        Outcome::Created {
            counts,
            generated_password,
        } => {
            eprintln!(
                "mailsync serve: created the organization in {} in {:.1} s: {}",
                path.display(),
                started.elapsed().as_secs_f64(),
                seed::describe(&counts)
            );
            match generated_password {
                Some(pw) => eprintln!(
                    "mailsync serve: sign in as admin with password {pw}\n\
                     mailsync serve: (shown only this once; set {ADMIN_PASSWORD_ENV} to choose it)"
                ),
                None => eprintln!(
                    "mailsync serve: sign in as admin with the password in {ADMIN_PASSWORD_ENV}"
                ),
            }
        }
    }
    Ok(store)
}

/// Passwords sealed under another key (the key file beside the database was replaced or
/// lost) cannot be used: say so once, instead of every mailbox failing to sign in unexplained.
fn warn_unopenable_passwords(store: &Store, path: &Path) {
    match store.with_conn(|c| secrets::unopenable(c)) {
        Ok(0) => {}
        Ok(n) => eprintln!(
            "mailsync serve: {n} stored passwords cannot be read with the key in {}; \
             enter those mailbox and profile passwords again",
            secrets::key_path(path).display()
        ),
        Err(e) => eprintln!("mailsync serve: cannot check the stored passwords: {e}"),
    }
}

fn check_dist(dist: &Path) -> Result<(), String> {
    if !dist.is_dir() {
        return Err(format!(
            "console directory {} does not exist; build the console first \
             (bash scripts/build.sh) or pass --dist DIR",
            dist.display()
        ));
    }
    if !dist.join("index.html").is_file() {
        return Err(format!(
            "console directory {} has no index.html; build the console first \
             (bash scripts/build.sh) or pass --dist DIR",
            dist.display()
        ));
    }
    Ok(())
}

/// Whether only this machine can reach the address.
fn is_loopback(ip: IpAddr) -> bool {
    ip.is_loopback()
}

/// Everything the HTTP application is made of.
pub struct Site {
    pub dist: PathBuf,
    pub store: Store,
    pub limits: Limits,
    pub boundary: Boundary,
    pub security: Security,
    pub request_timeout: std::time::Duration,
    pub sign_in: SignIn,
}

async fn serve(
    addr: SocketAddr,
    site: Site,
    net: listen::Limits,
    tls: Option<Arc<rustls::ServerConfig>>,
    engine: EngineArgs,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| bind_error(addr, &e))?;
    let engine = match engine.engine {
        Switch::On => {
            let clock = Arc::new(SystemClock {
                period: std::time::Duration::from_secs(1),
            });
            let e = Engine::new(site.store.clone(), clock, &engine)
                .map_err(|e| format!("cannot start the synchronization engine: {e}"))?;
            e.clone().start();
            eprintln!("mailsync serve: synchronization engine running");
            Some(e)
        }
        Switch::Off => None,
    };
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;

    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("mailsync console: {scheme}://{}/", display_addr(local));
    eprintln!("serving {} (Ctrl-C to stop)", site.dist.display());

    listen::serve(listener, app(site), net, tls, shutdown_signal()).await;
    if let Some(e) = engine {
        e.stop();
    }
    eprintln!("mailsync serve: stopped");
    Ok(())
}

fn bind_error(addr: SocketAddr, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::AddrInUse => format!(
            "cannot listen on {addr}: the port is already in use \
             (stop the other server or choose another --port)"
        ),
        io::ErrorKind::PermissionDenied => {
            format!("cannot listen on {addr}: permission denied (try a port above 1024)")
        }
        io::ErrorKind::AddrNotAvailable => {
            format!("cannot listen on {addr}: address not available on this machine (check --bind)")
        }
        _ => format!("cannot listen on {addr}: {e}"),
    }
}

/// The URL host to print: an unspecified bind address is reachable via loopback.
fn display_addr(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

/// The HTTP application: the API under `/api` (JSON errors, never `index.html`), then
/// static files with the SPA fallback; around both, the browser boundary (`boundary`:
/// Host check, forgery check on the API, security headers, time limit).
pub fn app(site: Site) -> Router {
    let boundary = Arc::new(site.boundary);
    let index = Arc::new(Index {
        path: site.dist.join("index.html"),
        connect_src: boundary.connect_src.clone(),
    });
    let page = get(spa_fallback).with_state(index);
    // Directories (including `/`) go to the fallback too, and `/index.html` to the same
    // handler, so every HTML response is the no-cache index.html with its CSP and a
    // rebuilt console is never half-cached.
    let files = ServeDir::new(site.dist)
        .append_index_html_on_directories(false)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(page.clone());
    let files = Router::new()
        .route("/index.html", page)
        .fallback_service(files)
        .layer(middleware::from_fn(assets::static_headers));
    let security = Arc::new(site.security);
    let sign_in = SignIn {
        security: Some(security.clone()),
        ..site.sign_in
    };
    let api = api::router(AppState {
        store: site.store,
        throttle: Throttle::new(site.limits),
        security,
    })
    .layer(middleware::from_fn_with_state(
        boundary.clone(),
        boundary::check_origin,
    ))
    // Answers compressed for clients that accept it (a page of 50 mailboxes: 74 KB of
    // JSON, 4 KB of brotli). Not a BREACH oracle: no answer holds a secret, and another
    // origin cannot send a cookie-authenticated request (check_origin above).
    .layer(tower_http::compression::CompressionLayer::new());
    Router::new()
        .nest("/api", api)
        .route(
            mailsync_core::oauth::REDIRECT_PATH,
            get(signin::redirect).with_state(sign_in),
        )
        .fallback_service(files)
        .layer(middleware::from_fn_with_state(
            site.request_timeout,
            boundary::time_limit,
        ))
        .layer(middleware::from_fn_with_state(
            boundary.clone(),
            boundary::secure_headers,
        ))
        .layer(middleware::from_fn_with_state(
            boundary,
            boundary::check_host,
        ))
}

/// The console's page and what its Content-Security-Policy allows.
struct Index {
    path: PathBuf,
    connect_src: Vec<String>,
}

async fn spa_fallback(State(index): State<Arc<Index>>, uri: Uri, headers: HeaderMap) -> Response {
    if looks_like_file(uri.path()) && uri.path() != "/index.html" {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    // Read per request so a rebuilt console is picked up without a restart (and its
    // inline loader's hash with it).
    let body = match tokio::fs::read_to_string(&index.path).await {
        Ok(body) => body,
        Err(e) => {
            eprintln!("mailsync serve: cannot read {}: {e}", index.path.display());
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the console's index.html cannot be read; see the server's log\n",
            )
                .into_response();
        }
    };
    let csp = boundary::console_csp(&body, &index.connect_src);
    let etag = assets::page_etag(body.as_bytes());
    let mut resp = if assets::not_modified(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match assets::page_variant(&index.path, body.as_bytes(), &headers).await {
            Some((encoding, bytes)) => {
                ([(header::CONTENT_ENCODING, encoding.token())], bytes).into_response()
            }
            None => body.into_response(),
        }
    };
    let h = resp.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, assets::REVALIDATE),
        (header::VARY, "accept-encoding"),
    ] {
        h.insert(name, header::HeaderValue::from_static(value));
    }
    if resp.status() == StatusCode::NOT_MODIFIED {
        resp.headers_mut().remove(header::CONTENT_TYPE);
    }
    for (name, value) in [(header::ETAG, etag), (header::CONTENT_SECURITY_POLICY, csp)] {
        if let Ok(v) = header::HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}

/// True when the last path segment has an extension (`/pkg/app.wasm`, `/favicon.ico`).
fn looks_like_file(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or("");
    last.rfind('.').is_some_and(|i| i > 0 && i + 1 < last.len())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    eprintln!("mailsync serve: shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_like_paths() {
        assert!(looks_like_file("/app-1234.wasm"));
        assert!(looks_like_file("/pkg/style.css"));
        assert!(!looks_like_file("/"));
        assert!(!looks_like_file("/analyzer"));
        assert!(!looks_like_file("/mailboxes/"));
        assert!(!looks_like_file("/.hidden"));
        assert!(!looks_like_file("/trailing."));
    }

    #[test]
    fn dist_precedence() {
        let flag = Some(PathBuf::from("a"));
        let env = Some(PathBuf::from("b"));
        assert_eq!(resolve_dist(flag.clone(), env.clone()), PathBuf::from("a"));
        assert_eq!(resolve_dist(None, env), PathBuf::from("b"));
        assert_eq!(
            resolve_dist(None, Some(PathBuf::new())),
            PathBuf::from("dist")
        );
        assert_eq!(resolve_dist(None, None), PathBuf::from("dist"));
    }

    #[test]
    fn unspecified_bind_prints_loopback() {
        let a: SocketAddr = "0.0.0.0:9000".parse().unwrap();
        assert_eq!(display_addr(a).to_string(), "127.0.0.1:9000");
        let b: SocketAddr = "[::]:9000".parse().unwrap();
        assert_eq!(display_addr(b).to_string(), "[::1]:9000");
    }
}
