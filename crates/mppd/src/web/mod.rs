//! The admin web UI (issue 7): axum, server-rendered HTML, one [`app`] function.
//!
//! # Routes
//! | route | who | what |
//! | --- | --- | --- |
//! | `GET /` | anyone | login page (200); with a session, a redirect to `/status` |
//! | `POST /login` | anyone | `account` (`admin`/`user`), `password`, `csrf` (login token) |
//! | `POST /logout` | session | ends the session (CSRF) |
//! | `GET /status` | session | Info > Status page |
//! | `GET /status.json` | admin | the same as JSON |
//! | `GET /tab/{tab}` | session | a registry tab: `System`, `SIP`, `Provisioning`, `Phone`, `Ext1`.. |
//! | `POST /tab/{tab}` | session | "Submit All Changes" (CSRF) |
//! | `GET /admin` | admin | export, upload, resync and reboot forms |
//! | `GET /admin/config.xml` | admin | export; secrets masked unless `?secrets=1` |
//! | `POST /admin/config.xml` | admin | apply a profile (merge; `?replace=1` replaces) |
//! | `POST /admin/resync` | admin | resync now (`?url=URL`, `?URL` or form field `url`; CSRF) |
//! | `POST /admin/reboot` | admin | restart the subsystems (CSRF) |
//!
//! Without a valid session every route but `GET /` and `POST /login` answers 401 (admin-only
//! routes answer 403 to the user account), never 200.
//!
//! # Rules
//! - Passwords are compared in constant time ([`auth::password_matches`]). An empty
//!   `Admin_Password` (or `User_Password`) lets that account log in with an empty password, as
//!   real phones do out of the box; the status page then warns. `Enable_Web_Admin_Access` = No
//!   refuses the admin login and ends admin sessions at their next request.
//! - Sessions live in memory, ids and CSRF tokens are 32 random bytes; the cookie is `HttpOnly;
//!   SameSite=Strict`, plus `Secure` when [`WebState::secure_cookies`]. `Session_Max_Timeout`
//!   and `Session_Idle_Timeout` are read from the profile at each request.
//! - The login form has its own CSRF token (double submit with a `mppd_login` cookie).
//! - After [`auth::MAX_FAILURES`] failed logins a client address is locked out for
//!   [`auth::LOCKOUT`] (429).
//! - `POST /admin/config.xml` takes either a session with the `X-CSRF-Token` header (or the
//!   upload form of `/admin`, with its `csrf` field) or, for provisioning tools, HTTP Basic
//!   `admin:Admin_Password` (throttled like the login), with an XML content type, which a
//!   cross-site form cannot send without a CORS preflight.
//! - Secrets never leave: secret fields render as set/unset and an empty submission keeps
//!   them; values with embedded credentials (`--pwd`, `user:pass@`) are masked and kept when
//!   submitted unchanged; status output is scrubbed of secret-looking keys and of every secret
//!   value of the profile.

pub mod auth;
pub mod html;

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use mppd_config::identity::DeviceIdentity;
use mppd_config::profile::{MASK, is_secret_name, mask_in_text, masked_value};
use mppd_config::registry::{self, Scope};
use mppd_config::store::{ApplyMode, StoreError};
use mppd_config::validate::{self, Report};
use mppd_config::{ParamDef, Profile, Ua};
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::state::StateDir;
use auth::{Role, Session, Sessions, Throttle};

/// The session cookie.
pub const SESSION_COOKIE: &str = "mppd_session";
/// The login-form CSRF cookie.
pub const LOGIN_COOKIE: &str = "mppd_login";

/// Monotonic time since an arbitrary epoch; injectable for tests.
pub type Clock = Arc<dyn Fn() -> Duration + Send + Sync>;

/// What the web UI needs from the running daemon. The daemon implements it; [`NoHooks`] does
/// nothing.
pub trait WebHooks: Send + Sync {
    /// The daemon's status (lines, provisioning, firewall, TLS, security events...). Secrets are
    /// scrubbed by the web UI before showing it, but should not be there in the first place.
    fn status(&self) -> Value;
    /// Resync now, from `url` or from the profile rules.
    fn resync(&self, url: Option<String>);
    /// Restart the subsystems.
    fn reboot(&self);
    /// A new profile was stored: apply it live.
    fn applied(&self, profile: &Profile);
}

/// Hooks that do nothing (status `{}`).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl WebHooks for NoHooks {
    fn status(&self) -> Value {
        json!({})
    }
    fn resync(&self, _url: Option<String>) {}
    fn reboot(&self) {}
    fn applied(&self, _profile: &Profile) {}
}

/// Everything the web UI runs on.
#[derive(Clone)]
pub struct WebState {
    /// The state directory (its profile store is the one `mppd config apply` uses).
    pub state_dir: StateDir,
    /// The device identity shown on the status page.
    pub identity: DeviceIdentity,
    /// The number of lines (`Ext1`..`ExtN` tabs; defaults when no profile is stored).
    pub lines: u8,
    /// The daemon.
    pub hooks: Arc<dyn WebHooks>,
    /// Mark cookies `Secure` (set when served over HTTPS).
    pub secure_cookies: bool,
    /// The clock of sessions and throttling.
    pub clock: Clock,
}

impl WebState {
    /// A state with [`NoHooks`], secure cookies and the real clock.
    pub fn new(state_dir: StateDir, identity: DeviceIdentity, lines: u8) -> Self {
        let start = Instant::now();
        Self {
            state_dir,
            identity,
            lines: lines.clamp(1, registry::MAX_LINES),
            hooks: Arc::new(NoHooks),
            secure_cookies: true,
            clock: Arc::new(move || start.elapsed()),
        }
    }
}

struct Inner {
    cfg: WebState,
    sessions: Mutex<Sessions>,
    throttle: Mutex<Throttle>,
    /// Recent security events of the web UI, newest last.
    events: Mutex<std::collections::VecDeque<Value>>,
}

/// How many web security events the status keeps.
const MAX_EVENTS: usize = 20;

type Shared = Arc<Inner>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The web UI router.
pub fn app(state: WebState) -> Router {
    let inner = Arc::new(Inner {
        cfg: state,
        sessions: Mutex::new(Sessions::default()),
        throttle: Mutex::new(Throttle::default()),
        events: Mutex::new(std::collections::VecDeque::new()),
    });
    Router::new()
        .route("/", get(index))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/status", get(status_page))
        .route("/status.json", get(status_json))
        .route("/directory", get(directory_page))
        .route("/tab/{tab}", get(tab_get).post(tab_post))
        .route("/admin", get(admin_page))
        .route("/admin/config.xml", get(export).post(import))
        .route("/admin/resync", post(resync))
        .route("/admin/reboot", post(reboot))
        .fallback(not_found)
        .layer(axum::middleware::map_response(security_headers))
        .with_state(inner)
}

/// Headers of every response: no framing (clickjacking), no caching, no sniffing, no
/// scripts, forms only to this origin.
async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Errors of a request; the single mapping to a response hides internal details.
#[derive(Debug)]
enum WebError {
    /// No valid session (or Basic credentials).
    NotLoggedIn,
    /// Logged in, but not allowed.
    Forbidden(&'static str),
    /// CSRF token missing or wrong.
    Csrf,
    /// Locked out after failed logins.
    Throttled,
    /// A bad request.
    BadRequest(String),
    /// Not found.
    NotFound,
    /// Something failed inside; logged, not shown.
    Internal(String),
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, msg): (StatusCode, Cow<'_, str>) = match &self {
            Self::NotLoggedIn => (StatusCode::UNAUTHORIZED, "Please log in.".into()),
            Self::Forbidden(why) => (StatusCode::FORBIDDEN, (*why).into()),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "Missing or wrong form token; reload the page.".into(),
            ),
            Self::Throttled => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed logins; try again later.".into(),
            ),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, m.as_str().into()),
            Self::NotFound => (StatusCode::NOT_FOUND, "Not found.".into()),
            Self::Internal(detail) => {
                warn!("web: internal error: {detail}");
                (StatusCode::INTERNAL_SERVER_ERROR, "Internal error.".into())
            }
        };
        let body = format!(
            "<p class=\"err\">{}</p><p><a href=\"/\">Log in</a></p>",
            html::escape(&msg)
        );
        let mut resp = (status, Html(html::page(status.as_str(), None, &body))).into_response();
        if matches!(self, Self::NotLoggedIn) {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Session"),
            );
        }
        resp
    }
}

type WebResult = Result<Response, WebError>;

/// The client address of a request (`unknown` when the server did not record it).
fn client(ci: Option<Extension<ConnectInfo<SocketAddr>>>) -> String {
    ci.map_or_else(
        || "unknown".to_owned(),
        |Extension(ConnectInfo(a))| a.ip().to_string(),
    )
}

type Client = Option<Extension<ConnectInfo<SocketAddr>>>;

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn form_value<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn secs(profile: &Profile, name: &str, fallback: u64) -> Duration {
    let v = profile
        .effective(name)
        .and_then(|v| validate::parse_int(&v))
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(fallback);
    Duration::from_secs(v)
}

impl Inner {
    fn now(&self) -> Duration {
        (self.cfg.clock)()
    }

    /// Records a security event (shown on the status page; never holds a secret).
    fn event(&self, what: &str, client: &str) {
        let mut ev = lock(&self.events);
        if ev.len() >= MAX_EVENTS {
            ev.pop_front();
        }
        ev.push_back(json!({"at_s": self.now().as_secs(), "event": what, "client": client}));
    }

    /// The stored profile, or the embedded defaults when none is stored.
    fn profile(&self) -> Result<Profile, WebError> {
        match self.cfg.state_dir.store().load() {
            Ok(Some(p)) => Ok(p),
            Ok(None) => Ok(Profile::defaults(self.cfg.lines)),
            Err(e) => Err(WebError::Internal(e.to_string())),
        }
    }

    fn cookie_attrs(&self) -> &'static str {
        if self.cfg.secure_cookies {
            "; Path=/; HttpOnly; SameSite=Strict; Secure"
        } else {
            "; Path=/; HttpOnly; SameSite=Strict"
        }
    }

    /// The session of a request, checked against the timeouts and admin access in force.
    fn session(
        &self,
        headers: &HeaderMap,
        profile: &Profile,
    ) -> Result<(String, Session), WebError> {
        let id = cookie(headers, SESSION_COOKIE).ok_or(WebError::NotLoggedIn)?;
        let max = secs(profile, "Session_Max_Timeout", 3600);
        let idle = secs(profile, "Session_Idle_Timeout", 3600);
        let mut sessions = lock(&self.sessions);
        let s = sessions
            .touch(id, self.now(), max, idle)
            .ok_or(WebError::NotLoggedIn)?;
        if s.role == Role::Admin && !profile.bool("Enable_Web_Admin_Access") {
            sessions.remove(id);
            return Err(WebError::NotLoggedIn);
        }
        Ok((id.to_owned(), s))
    }

    fn admin(&self, headers: &HeaderMap, profile: &Profile) -> Result<Session, WebError> {
        let (_, s) = self.session(headers, profile)?;
        if s.role == Role::Admin {
            Ok(s)
        } else {
            Err(WebError::Forbidden("This page is for the admin account."))
        }
    }

    /// Checks a password against the throttle; records the outcome.
    fn check_password(&self, client: &str, given: &str, expected: &str) -> Result<bool, WebError> {
        let now = self.now();
        if lock(&self.throttle).locked(client, now) {
            self.event("login refused: locked out", client);
            return Err(WebError::Throttled);
        }
        let ok = auth::password_matches(given, expected);
        let mut t = lock(&self.throttle);
        if ok {
            t.succeeded(client);
        } else {
            t.failed(client, now);
        }
        Ok(ok)
    }

    /// Tabs as `(url segment, title, registry tab, line)`.
    fn tabs(&self, profile: &Profile) -> Vec<(String, String, &'static str, Option<u8>)> {
        let mut seen: Vec<&'static str> = Vec::new();
        for d in registry::all() {
            if !seen.contains(&d.tab) {
                seen.push(d.tab);
            }
        }
        let lines = self.lines(profile);
        let mut out = Vec::new();
        for tab in seen {
            if tab == "Ext(n)" {
                for n in 1..=lines {
                    out.push((format!("Ext{n}"), format!("Ext {n}"), tab, Some(n)));
                }
            } else {
                out.push((tab.to_owned(), tab.to_owned(), tab, None));
            }
        }
        out
    }

    /// The lines the pages show: the configured count, or more when the profile names them.
    fn lines(&self, profile: &Profile) -> u8 {
        let mut n = self.cfg.lines;
        for e in profile.entries() {
            if let Some(l) = registry::lookup(&e.name).and_then(|r| r.line) {
                n = n.max(l);
            }
        }
        n
    }

    fn nav_tabs(&self, profile: &Profile, role: Role) -> Vec<(String, String)> {
        self.tabs(profile)
            .into_iter()
            .filter(|(_, _, tab, line)| {
                role == Role::Admin
                    || fields_of(tab, *line).any(|(d, l)| profile.ua(&d.name_for(l)) != Ua::Na)
            })
            .map(|(seg, title, _, _)| (seg, title))
            .collect()
    }

    fn render(&self, profile: &Profile, s: &Session, title: &str, body: &str) -> String {
        let tabs = self.nav_tabs(profile, s.role);
        let nav = html::Nav {
            role: s.role.as_str(),
            tabs: &tabs,
            admin: s.role == Role::Admin,
            csrf: &s.csrf,
        };
        html::page(title, Some(&nav), body)
    }
}

fn fields_of(
    tab: &'static str,
    line: Option<u8>,
) -> impl Iterator<Item = (&'static ParamDef, Option<u8>)> {
    registry::all()
        .iter()
        .filter(move |d| d.tab == tab)
        .map(move |d| (d, if d.scope == Scope::Line { line } else { None }))
}

fn check_csrf(form: &[(String, String)], s: &Session) -> Result<(), WebError> {
    match form_value(form, "csrf") {
        Some(t) if auth::token_matches(t, &s.csrf) => Ok(()),
        _ => Err(WebError::Csrf),
    }
}

fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn with_cookie(mut r: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

fn internal<E: std::fmt::Display>(e: E) -> WebError {
    WebError::Internal(e.to_string())
}

// ---- login ----

async fn index(State(st): State<Shared>, headers: HeaderMap) -> WebResult {
    let profile = st.profile()?;
    if st.session(&headers, &profile).is_ok() {
        return Ok(redirect("/status"));
    }
    login_page(&st, StatusCode::OK, None)
}

fn login_page(st: &Inner, status: StatusCode, message: Option<&str>) -> WebResult {
    let token = auth::random_token().map_err(internal)?;
    let body = html::login_form(&token, message);
    let r = (status, Html(html::page("Log in", None, &body))).into_response();
    Ok(with_cookie(
        r,
        &format!("{LOGIN_COOKIE}={token}{}", st.cookie_attrs()),
    ))
}

async fn login(
    State(st): State<Shared>,
    ci: Client,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> WebResult {
    let client = client(ci);
    let expected_token = cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if !form_value(&form, "csrf").is_some_and(|t| auth::token_matches(t, expected_token)) {
        return Err(WebError::Csrf);
    }
    let profile = st.profile()?;
    let role = match form_value(&form, "account") {
        Some("admin") => Role::Admin,
        Some("user") => Role::User,
        _ => return Err(WebError::BadRequest("Unknown account.".into())),
    };
    if role == Role::Admin && !profile.bool("Enable_Web_Admin_Access") {
        info!("web: admin login from {client} refused: Enable_Web_Admin_Access is No");
        st.event("admin login refused: admin access disabled", &client);
        return login_page(
            &st,
            StatusCode::FORBIDDEN,
            Some("Admin access to the web UI is disabled."),
        );
    }
    let expected = match role {
        Role::Admin => profile.effective("Admin_Password"),
        Role::User => profile.effective("User_Password"),
    }
    .unwrap_or_default();
    let given = form_value(&form, "password").unwrap_or("");
    if !st.check_password(&client, given, &expected)? {
        info!("web: failed {} login from {client}", role.as_str());
        st.event(&format!("failed {} login", role.as_str()), &client);
        return login_page(
            &st,
            StatusCode::UNAUTHORIZED,
            Some("Wrong account or password."),
        );
    }
    let id = auth::random_token().map_err(internal)?;
    let csrf = auth::random_token().map_err(internal)?;
    let now = st.now();
    lock(&st.sessions).insert(
        id.clone(),
        Session {
            role,
            csrf,
            created: now,
            last_seen: now,
        },
    );
    info!("web: {} logged in from {client}", role.as_str());
    st.event(&format!("{} logged in", role.as_str()), &client);
    let r = with_cookie(
        redirect("/status"),
        &format!("{SESSION_COOKIE}={id}{}", st.cookie_attrs()),
    );
    Ok(with_cookie(
        r,
        &format!("{LOGIN_COOKIE}=; Max-Age=0{}", st.cookie_attrs()),
    ))
}

async fn logout(
    State(st): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> WebResult {
    let profile = st.profile()?;
    let (id, s) = st.session(&headers, &profile)?;
    check_csrf(&form, &s)?;
    lock(&st.sessions).remove(&id);
    Ok(with_cookie(
        redirect("/"),
        &format!("{SESSION_COOKIE}=; Max-Age=0{}", st.cookie_attrs()),
    ))
}

async fn not_found(State(st): State<Shared>, headers: HeaderMap) -> WebResult {
    let profile = st.profile()?;
    st.session(&headers, &profile)?;
    Err(WebError::NotFound)
}

// ---- status ----

/// Every non-empty secret value of the profile, including `--pwd`/`--key` arguments and URL
/// passwords inside other values.
fn secret_values(profile: &Profile) -> Vec<String> {
    let mut out = Vec::new();
    for e in profile.entries() {
        if e.value.is_empty() {
            continue;
        }
        if is_secret_name(&e.name) {
            out.push(e.value.clone());
            continue;
        }
        let masked = masked_value(&e.name, &e.value);
        if masked != e.value {
            // The parts the mask replaced: split the original around the kept pieces.
            let kept: Vec<&str> = masked.split(MASK).collect();
            let mut rest = e.value.as_str();
            for (i, k) in kept.iter().enumerate() {
                if let Some(at) = rest.find(k) {
                    if i > 0 && at > 0 {
                        out.push(rest[..at].to_owned());
                    }
                    rest = &rest[at + k.len()..];
                }
            }
            if !rest.is_empty() && kept.len() > 1 {
                out.push(rest.to_owned());
            }
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Removes secrets from a status value: secret-looking keys are masked, credentials in text
/// are masked, and every secret value of the profile is replaced wherever it appears.
fn scrub(v: &mut Value, secrets: &[String]) {
    match v {
        Value::String(s) => {
            let mut out = mask_in_text(s).into_owned();
            for secret in secrets {
                if out.contains(secret.as_str()) {
                    out = out.replace(secret.as_str(), MASK);
                }
            }
            *s = out;
        }
        Value::Array(a) => a.iter_mut().for_each(|x| scrub(x, secrets)),
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if is_secret_name(k) && !x.is_null() && !x.is_boolean() {
                    *x = Value::String(MASK.into());
                } else {
                    scrub(x, secrets);
                }
            }
        }
        _ => {}
    }
}

fn status_value(st: &Inner, profile: &Profile) -> Value {
    let id = &st.cfg.identity;
    let eff = |n: &str| profile.effective(n).map(Cow::into_owned);
    let mut v = json!({
        "device": {
            "product": id.product_name,
            "serial": id.serial,
            "mac": id.mac.map(|m| m.to_string()),
            "firmware": id.firmware_version,
            "hardware": id.hardware_version,
            "lines": st.lines(profile),
        },
        "web": {
            "admin_access": profile.bool("Enable_Web_Admin_Access"),
            "admin_password_set": eff("Admin_Password").is_some_and(|p| !p.is_empty()),
            "user_password_set": eff("User_Password").is_some_and(|p| !p.is_empty()),
            "session_max_timeout": eff("Session_Max_Timeout"),
            "session_idle_timeout": eff("Session_Idle_Timeout"),
        },
        "tls_policy": {
            "min_version": eff("TLS_Min_Version"),
            "server_min_version": eff("TLS_Server_Min_Version"),
            "cipher_list": eff("TLS_Cipher_List"),
        },
        "web_events": lock(&st.events).iter().cloned().collect::<Vec<_>>(),
        "daemon": st.cfg.hooks.status(),
    });
    scrub(&mut v, &secret_values(profile));
    v
}

async fn status_page(State(st): State<Shared>, headers: HeaderMap) -> WebResult {
    let profile = st.profile()?;
    let (_, s) = st.session(&headers, &profile)?;
    let v = status_value(&st, &profile);
    let mut body = String::new();
    if v["web"]["admin_password_set"] == Value::Bool(false) {
        body.push_str("<p class=\"err\">Warning: no admin password is set.</p>");
    }
    body.push_str(&html::json(&v));
    Ok(Html(st.render(&profile, &s, "Info > Status", &body)).into_response())
}

async fn status_json(State(st): State<Shared>, headers: HeaderMap) -> WebResult {
    let profile = st.profile()?;
    st.admin(&headers, &profile)?;
    let mut r = status_value(&st, &profile).to_string().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

// ---- directory (SPEC §9, issue 9) ----

/// `?q=NAME` of the Directory page.
#[derive(Debug, serde::Deserialize)]
struct DirectoryQuery {
    q: Option<String>,
}

/// The corporate directory, for both accounts: a search form (GET: it changes nothing) and the
/// entries found with the profile's LDAP settings (`LDAP_Dir_Enable` must be Yes).
async fn directory_page(
    State(st): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<DirectoryQuery>,
) -> WebResult {
    let profile = st.profile()?;
    let (_, s) = st.session(&headers, &profile)?;
    let q = query.q.unwrap_or_default();
    let mut body = format!(
        "<form method=\"get\" action=\"/directory\"><p><label>Name \
         <input type=\"text\" name=\"q\" value=\"{}\" size=\"30\"></label> \
         <button type=\"submit\">Search</button></p></form>",
        html::escape(&q)
    );
    if !profile.bool("LDAP_Dir_Enable") {
        body.push_str("<p class=\"note\">The directory is off (LDAP_Dir_Enable is No).</p>");
    } else if !q.trim().is_empty() {
        let found = match crate::ldap::Directory::new(&profile, &st.cfg.state_dir) {
            Ok(d) => d.search_name(q.trim()).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match found {
            Ok(outcome) if outcome.rows.is_empty() => {
                body.push_str("<p>No entry found.</p>");
            }
            Ok(outcome) => {
                body.push_str("<table><tr><th>Name</th><th>Details</th><th>Dial</th></tr>");
                for row in &outcome.rows {
                    let details: Vec<String> = row
                        .fields
                        .iter()
                        .map(|f| format!("{}: {}", html::escape(&f.label), html::escape(&f.value)))
                        .collect();
                    let _ = write!(
                        body,
                        "<tr class=\"entry\"><td>{}</td><td>{}</td><td>{}</td></tr>",
                        html::escape(&row.name),
                        details.join("<br>"),
                        html::escape(row.dial.as_deref().unwrap_or(""))
                    );
                }
                body.push_str("</table>");
                if outcome.truncated {
                    body.push_str("<p class=\"note\">More entries match: refine the name.</p>");
                }
            }
            Err(e) => {
                let _ = write!(
                    body,
                    "<p class=\"err\">The directory search failed: {}</p>",
                    html::escape(&e)
                );
            }
        }
    }
    Ok(Html(st.render(&profile, &s, "Directory", &body)).into_response())
}

// ---- tabs ----

struct FieldState {
    error: Option<String>,
    submitted: Option<String>,
}

/// The value a field shows in its input (masked where it embeds credentials).
fn shown_value(profile: &Profile, def: &'static ParamDef, line: Option<u8>) -> String {
    let name = def.name_for(line);
    let eff = profile.effective_def(def, line);
    masked_value(&name, &eff).into_owned()
}

#[allow(clippy::too_many_arguments)]
fn render_tab(
    st: &Inner,
    profile: &Profile,
    s: &Session,
    seg: &str,
    tab: &'static str,
    line: Option<u8>,
    states: &std::collections::HashMap<String, FieldState>,
    notice: Option<&str>,
) -> String {
    let mut body = String::new();
    if let Some(n) = notice {
        let _ = write!(body, "<p class=\"note\">{}</p>", html::escape(n));
    }
    if states.values().any(|f| f.error.is_some()) {
        body.push_str("<p class=\"err\">Nothing was changed: correct the fields marked below.</p>");
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/tab/{}\">{}",
        html::escape(seg),
        html::csrf_field(&s.csrf)
    );
    let mut section = "";
    let mut any = false;
    for (def, l) in fields_of(tab, line) {
        let name = def.name_for(l);
        let ua = profile.ua(&name);
        if s.role == Role::User && ua == Ua::Na {
            continue;
        }
        if def.section != section {
            if any {
                body.push_str("</table>");
            }
            section = def.section;
            let _ = write!(body, "<h2>{}</h2><table>", html::escape(section));
            any = true;
        }
        let fs = states.get(&name);
        let eff = profile.effective_def(def, l);
        let shown = shown_value(profile, def, l);
        let value = match fs.and_then(|f| f.submitted.as_deref()) {
            Some(v) if !def.is_secret() => v.to_owned(),
            _ => shown,
        };
        let default = def.default_for(l);
        let default = masked_value(&name, &default);
        body.push_str(&html::field_row(&html::Field {
            name: &name,
            label: def.label,
            kind: &def.kind,
            secret: def.is_secret(),
            value: &value,
            set: !eff.is_empty(),
            default: &default,
            editable: s.role == Role::Admin || ua == Ua::Rw,
            error: fs.and_then(|f| f.error.as_deref()),
        }));
    }
    if any {
        body.push_str("</table><p><button type=\"submit\">Submit All Changes</button></p>");
    } else {
        body.push_str("<p>Nothing on this tab is available to this account.</p>");
    }
    body.push_str("</form>");
    let title = match line {
        Some(n) => format!("Ext {n}"),
        None => tab.to_owned(),
    };
    st.render(profile, s, &title, &body)
}

fn find_tab(
    st: &Inner,
    profile: &Profile,
    seg: &str,
) -> Result<(&'static str, Option<u8>), WebError> {
    st.tabs(profile)
        .into_iter()
        .find(|(s, ..)| s == seg)
        .map(|(_, _, t, l)| (t, l))
        .ok_or(WebError::NotFound)
}

async fn tab_get(
    State(st): State<Shared>,
    Path(seg): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> WebResult {
    let profile = st.profile()?;
    let (_, s) = st.session(&headers, &profile)?;
    let (tab, line) = find_tab(&st, &profile, &seg)?;
    let notice = q
        .as_deref()
        .is_some_and(|q| q.split('&').any(|kv| kv == "saved=1"))
        .then_some("Changes applied.");
    let page = render_tab(
        &st,
        &profile,
        &s,
        &seg,
        tab,
        line,
        &Default::default(),
        notice,
    );
    Ok(Html(page).into_response())
}

async fn tab_post(
    State(st): State<Shared>,
    Path(seg): Path<String>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> WebResult {
    let profile = st.profile()?;
    let (_, s) = st.session(&headers, &profile)?;
    check_csrf(&form, &s)?;
    let (tab, line) = find_tab(&st, &profile, &seg)?;
    // Editable fields of this tab for this account.
    let editable: Vec<(&'static ParamDef, Option<u8>, String)> = fields_of(tab, line)
        .map(|(d, l)| (d, l, d.name_for(l)))
        .filter(|(_, _, n)| s.role == Role::Admin || profile.ua(n) == Ua::Rw)
        .collect();
    // Every submitted field must be one of them.
    for (k, _) in &form {
        if k == "csrf" {
            continue;
        }
        let name = k
            .strip_prefix("v:")
            .or_else(|| k.strip_prefix("clear:"))
            .ok_or_else(|| WebError::BadRequest("Unexpected form field.".into()))?;
        if !editable.iter().any(|(_, _, n)| n == name) {
            info!(
                "web: {} tried to change {name:?}, which it may not change here",
                s.role.as_str()
            );
            return Err(WebError::Forbidden(
                "A submitted field is read-only or not available to this account; nothing was changed.",
            ));
        }
    }
    let mut incoming = Profile::new();
    let mut states = std::collections::HashMap::new();
    for (def, l, name) in &editable {
        let Some(v) = form_value(&form, &format!("v:{name}")) else {
            continue;
        };
        let clear = form_value(&form, &format!("clear:{name}")).is_some();
        if def.is_secret() {
            if clear {
                incoming.set(name, "", None, 0);
            } else if !v.is_empty() {
                incoming.set(name, v, None, 0);
            }
        } else if v != shown_value(&profile, def, *l) {
            incoming.set(name, v, None, 0);
        }
        states.insert(
            name.clone(),
            FieldState {
                error: None,
                submitted: Some(v.to_owned()),
            },
        );
    }
    let report = validate::validate(&incoming);
    if !report.is_valid() {
        return Ok(invalid(&st, &profile, &s, &seg, tab, line, states, &report));
    }
    if incoming.is_empty() {
        return Ok(redirect(&format!("/tab/{seg}")));
    }
    match st.cfg.state_dir.store().apply(&incoming, ApplyMode::Merge) {
        Ok((stored, _)) => {
            let names: Vec<&str> = incoming.entries().iter().map(|e| e.name.as_str()).collect();
            info!("web: {} changed {}", s.role.as_str(), names.join(", "));
            st.cfg.hooks.applied(&stored);
            Ok(redirect(&format!("/tab/{seg}?saved=1")))
        }
        Err(StoreError::Invalid(report)) => {
            Ok(invalid(&st, &profile, &s, &seg, tab, line, states, &report))
        }
        Err(e) => Err(internal(e)),
    }
}

#[allow(clippy::too_many_arguments)]
fn invalid(
    st: &Inner,
    profile: &Profile,
    s: &Session,
    seg: &str,
    tab: &'static str,
    line: Option<u8>,
    mut states: std::collections::HashMap<String, FieldState>,
    report: &Report,
) -> Response {
    let mut others = Vec::new();
    for p in &report.errors {
        match states.get_mut(&p.name) {
            Some(f) => f.error = Some(p.error.to_string()),
            None => others.push(p.to_string()),
        }
    }
    let mut page = render_tab(st, profile, s, seg, tab, line, &states, None);
    if !others.is_empty() {
        // Problems of the stored profile outside this form (already masked by the validator).
        let list: String = others
            .iter()
            .map(|o| format!("<li class=\"err\">{}</li>", html::escape(o)))
            .collect();
        page = page.replacen("<form ", &format!("<ul>{list}</ul><form "), 1);
    }
    (StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response()
}

// ---- admin ----

async fn admin_page(State(st): State<Shared>, headers: HeaderMap) -> WebResult {
    let profile = st.profile()?;
    let s = st.admin(&headers, &profile)?;
    let csrf = html::csrf_field(&s.csrf);
    let body = format!(
        "<h2>Configuration</h2><p><a href=\"/admin/config.xml\">Export config.xml</a> (secrets masked) \
         &middot; <a href=\"/admin/config.xml?secrets=1\">with secrets</a></p>\
         <form method=\"post\" action=\"/admin/config.xml\">{csrf}<p><textarea name=\"profile\" rows=\"8\" cols=\"80\"></textarea></p>\
         <p><label><input type=\"checkbox\" name=\"replace\" value=\"1\"> replace the whole profile</label> \
         <button type=\"submit\">Apply profile</button></p></form>\
         <h2>Resync</h2><form method=\"post\" action=\"/admin/resync\">{csrf}\
         <p><label>URL (empty: the profile rules) <input type=\"text\" name=\"url\" size=\"60\"></label> \
         <button type=\"submit\">Resync</button></p></form>\
         <h2>Restart</h2><form method=\"post\" action=\"/admin/reboot\">{csrf}\
         <p><button type=\"submit\">Restart the subsystems</button></p></form>"
    );
    Ok(Html(st.render(&profile, &s, "Admin", &body)).into_response())
}

fn query_flag(q: Option<&str>, key: &str) -> bool {
    q.is_some_and(|q| {
        q.split('&')
            .any(|kv| kv == key || kv == format!("{key}=1") || kv == format!("{key}=yes"))
    })
}

/// Admin authentication of the phone-compatible endpoints: a session, or HTTP Basic
/// `admin:Admin_Password`. Returns the session when there is one.
fn admin_or_basic(
    st: &Inner,
    headers: &HeaderMap,
    profile: &Profile,
    client: &str,
) -> Result<Option<Session>, WebError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    let Some(b64) = basic else {
        return st.admin(headers, profile).map(Some);
    };
    if !profile.bool("Enable_Web_Admin_Access") {
        return Err(WebError::Forbidden(
            "Admin access to the web UI is disabled.",
        ));
    }
    let decoded = openssl::base64::decode_block(b64.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(WebError::NotLoggedIn)?;
    let (user, pass) = decoded.split_once(':').ok_or(WebError::NotLoggedIn)?;
    let expected = profile.effective("Admin_Password").unwrap_or_default();
    if st.check_password(client, pass, &expected)? && user == "admin" {
        Ok(None)
    } else {
        info!("web: failed Basic admin authentication from {client}");
        st.event("failed Basic admin authentication", client);
        Err(WebError::NotLoggedIn)
    }
}

async fn export(
    State(st): State<Shared>,
    ci: Client,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> WebResult {
    let profile = st.profile()?;
    admin_or_basic(&st, &headers, &profile, &client(ci))?;
    let with_secrets = query_flag(q.as_deref(), "secrets");
    if with_secrets {
        info!("web: admin exported the profile with secrets");
    }
    let xml = profile.emit(!with_secrets);
    let mut r = xml.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
}

async fn import(
    State(st): State<Shared>,
    ci: Client,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> WebResult {
    let profile = st.profile()?;
    let client = client(ci);
    let session = admin_or_basic(&st, &headers, &profile, &client)?;
    let ct = content_type(&headers);
    let is_xml = ct.eq_ignore_ascii_case("application/xml") || ct.eq_ignore_ascii_case("text/xml");
    let (xml, replace) = if ct.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        // The upload form of /admin: session + csrf field.
        let s = session.ok_or(WebError::Csrf)?;
        let form = url_decode_pairs(&body);
        check_csrf(&form, &s)?;
        (
            form_value(&form, "profile")
                .unwrap_or("")
                .as_bytes()
                .to_vec(),
            form_value(&form, "replace").is_some(),
        )
    } else if is_xml {
        if let Some(s) = &session {
            let given = headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !auth::token_matches(given, &s.csrf) {
                return Err(WebError::Csrf);
            }
        }
        (body.to_vec(), query_flag(q.as_deref(), "replace"))
    } else {
        return Err(WebError::BadRequest(
            "Send the profile as application/xml.".into(),
        ));
    };
    let incoming =
        Profile::parse(&xml).map_err(|e| WebError::BadRequest(format!("Not a profile: {e}")))?;
    let report = validate::validate(&incoming);
    if !report.is_valid() {
        return Ok(problems(&report, &incoming));
    }
    let mode = if replace {
        ApplyMode::Replace
    } else {
        ApplyMode::Merge
    };
    match st.cfg.state_dir.store().apply(&incoming, mode) {
        Ok((stored, _)) => {
            info!(
                "web: admin applied a profile ({} parameters, {mode:?}) from {client}",
                incoming.entries().len()
            );
            st.cfg.hooks.applied(&stored);
            Ok((
                StatusCode::OK,
                format!(
                    "applied {} parameters; the profile now holds {}\n",
                    incoming.entries().len(),
                    stored.entries().len()
                ),
            )
                .into_response())
        }
        Err(StoreError::Invalid(report)) => Ok(problems(&report, &incoming)),
        Err(e) => Err(internal(e)),
    }
}

/// A 422 listing the problems of a refused profile (values are masked by the validator; the
/// error texts are scrubbed of the incoming profile's secrets too).
fn problems(report: &Report, incoming: &Profile) -> Response {
    let secrets = secret_values(incoming);
    let mut text = String::from("profile refused; nothing was changed\n");
    for p in &report.errors {
        let mut line = Value::String(p.to_string());
        scrub(&mut line, &secrets);
        if let Value::String(line) = line {
            let _ = writeln!(text, "{line}");
        }
    }
    (StatusCode::UNPROCESSABLE_ENTITY, text).into_response()
}

/// Decodes `application/x-www-form-urlencoded` pairs.
fn url_decode_pairs(body: &[u8]) -> Vec<(String, String)> {
    body.split(|b| *b == b'&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let mut it = kv.splitn(2, |b| *b == b'=');
            let k = it.next().unwrap_or_default();
            let v = it.next().unwrap_or_default();
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < s.len() => {
                let hex = std::str::from_utf8(&s[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn resync(
    State(st): State<Shared>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> WebResult {
    let profile = st.profile()?;
    let s = st.admin(&headers, &profile)?;
    check_csrf(&form, &s)?;
    let url = form_value(&form, "url")
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            let q = q.filter(|q| !q.is_empty())?;
            let pairs = url_decode_pairs(q.as_bytes());
            match pairs.iter().find(|(k, _)| k == "url") {
                Some((_, v)) => Some(v.clone()),
                // Phone style: `/admin/resync?http://server/cfg.xml`.
                None => Some(percent_decode(q.as_bytes())),
            }
        })
        .filter(|u| !u.is_empty());
    info!(
        "web: admin requested a resync from {}",
        url.as_deref()
            .map_or(Cow::Borrowed("the profile rules"), mask_in_text)
    );
    st.cfg.hooks.resync(url);
    let body = "<p>Resync requested.</p>";
    Ok((
        StatusCode::ACCEPTED,
        Html(st.render(&profile, &s, "Resync", body)),
    )
        .into_response())
}

async fn reboot(
    State(st): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> WebResult {
    let profile = st.profile()?;
    let s = st.admin(&headers, &profile)?;
    check_csrf(&form, &s)?;
    info!("web: admin requested a restart of the subsystems");
    st.cfg.hooks.reboot();
    let body = "<p>Restarting the subsystems.</p>";
    Ok((
        StatusCode::ACCEPTED,
        Html(st.render(&profile, &s, "Restart", body)),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_forms() {
        assert_eq!(
            url_decode_pairs(b"a=1+2&b=%3Cx%3E&c=%&d"),
            vec![
                ("a".into(), "1 2".into()),
                ("b".into(), "<x>".into()),
                ("c".into(), "%".into()),
                ("d".into(), String::new()),
            ]
        );
    }

    #[test]
    fn finds_embedded_secrets() {
        let p = Profile::parse(
            b"<flat-profile><Profile_Rule>[--uid u --pwd s3cr3t] https://h/x</Profile_Rule>\
              <Admin_Password>adm</Admin_Password><Firewall>Disabled</Firewall></flat-profile>",
        )
        .unwrap_or_default();
        let s = secret_values(&p);
        assert!(
            s.contains(&"s3cr3t".to_owned()) && s.contains(&"adm".to_owned()),
            "{s:?}"
        );
        assert_eq!(s.len(), 2, "{s:?}");
    }

    #[test]
    fn scrubs_status() {
        let mut v = json!({"Admin_Password": "x", "note": "pw hunter2 here",
            "url": "https://u:pw@h/x", "list": ["hunter2"]});
        scrub(&mut v, &["hunter2".into()]);
        let s = v.to_string();
        assert!(!s.contains("hunter2") && !s.contains(":pw@") && !s.contains("\"x\""));
    }
}
