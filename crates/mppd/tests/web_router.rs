#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Router tests of the admin web UI (issue 7): `oneshot` on `mppd::web::app`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use mppd::state::StateDir;
use mppd::web::{WebHooks, WebState, app};
use mppd_config::Profile;
use mppd_config::identity::DeviceIdentity;
use mppd_config::store::{ApplyMode, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

const ADMIN_PW: &str = "Adm1n-S3cret-xyzzy";
const USER_PW: &str = "Us3r-S3cret-plugh";
const LINE_PW: &str = "L1ne-S3cret-quux";
const RULE_PW: &str = "Ru1e-S3cret-frob";
const SECRETS: &[&str] = &[ADMIN_PW, USER_PW, LINE_PW, RULE_PW];

fn profile_xml(extra: &str) -> String {
    format!(
        "<flat-profile>\
         <Admin_Password>{ADMIN_PW}</Admin_Password>\
         <User_Password ua=\"rw\">{USER_PW}</User_Password>\
         <Password_1_ ua=\"na\">{LINE_PW}</Password_1_>\
         <Profile_Rule>[--uid prov --pwd {RULE_PW}] https://prov.example.com/cfg.xml</Profile_Rule>\
         <Enable_Web_Server ua=\"ro\">Yes</Enable_Web_Server>\
         <Enable_802.1X_Authentication ua=\"rw\">No</Enable_802.1X_Authentication>\
         {extra}</flat-profile>"
    )
}

#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<String>>,
}

impl Recorder {
    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

impl WebHooks for Recorder {
    fn status(&self) -> Value {
        json!({
            "lines": [{"line": 1, "registration": format!("registered sip:1001:{LINE_PW}@pbx")}],
            "provisioning": {"last_resync": "ok", "url": format!("https://prov:{RULE_PW}@prov.example.com/")},
            "Proxy_Password": "whatever",
            "events": ["login failure from 192.0.2.1"],
        })
    }
    fn resync(&self, url: Option<String>) {
        self.events
            .lock()
            .unwrap()
            .push(format!("resync {}", url.unwrap_or_default()));
    }
    fn reboot(&self) {
        self.events.lock().unwrap().push("reboot".into());
    }
    fn applied(&self, _profile: &Profile) {
        self.events.lock().unwrap().push("applied".into());
    }
}

struct Env {
    _dir: tempfile::TempDir,
    store: Store,
    app: Router,
    hooks: Arc<Recorder>,
    clock: Arc<AtomicU64>,
}

fn env_with(extra: &str, secure: bool) -> Env {
    logs();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path());
    store
        .apply(
            &Profile::parse(profile_xml(extra).as_bytes()).unwrap(),
            ApplyMode::Replace,
        )
        .unwrap();
    let hooks = Arc::new(Recorder::default());
    let clock = Arc::new(AtomicU64::new(1000));
    let mut state = WebState::new(StateDir::new(dir.path()), DeviceIdentity::emulated(), 2);
    state.hooks = hooks.clone();
    state.secure_cookies = secure;
    let c = clock.clone();
    state.clock = Arc::new(move || Duration::from_secs(c.load(Ordering::SeqCst)));
    Env {
        _dir: dir,
        store,
        app: app(state),
        hooks,
        clock,
    }
}

fn env(extra: &str) -> Env {
    env_with(extra, false)
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Resp {
    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with(&format!("{name}=")))
    }
}

/// Sends a request; the body must not hold any test secret.
async fn send(app: &Router, req: Request<Body>) -> Resp {
    let r = send_raw(app, req).await;
    for s in SECRETS {
        assert!(
            !r.body.contains(s),
            "secret {s} in a response body:\n{}",
            r.body
        );
    }
    r
}

async fn send_raw(app: &Router, mut req: Request<Body>) -> Resp {
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40000))));
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    Resp {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::builder().method(Method::GET).uri(path);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::empty()).unwrap()
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn post_form(path: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Request<Body> {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::from(body.join("&"))).unwrap()
}

fn csrf_in(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    body[at..].split('"').next().unwrap().to_owned()
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// A logged-in session: its cookie and CSRF token.
struct Sess {
    cookie: String,
    csrf: String,
}

async fn try_login(app: &Router, account: &str, password: &str) -> Resp {
    let page = send(app, get("/", None)).await;
    assert_eq!(page.status, StatusCode::OK);
    let login_cookie = cookie_pair(&page.set_cookie("mppd_login").unwrap());
    let token = csrf_in(&page.body);
    send(
        app,
        post_form(
            "/login",
            Some(&login_cookie),
            &[
                ("csrf", &token),
                ("account", account),
                ("password", password),
            ],
        ),
    )
    .await
}

async fn login(app: &Router, account: &str, password: &str) -> Sess {
    let r = try_login(app, account, password).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let cookie = cookie_pair(&r.set_cookie("mppd_session").unwrap());
    let status = send(app, get("/status", Some(&cookie))).await;
    assert_eq!(status.status, StatusCode::OK);
    Sess {
        csrf: csrf_in(&status.body),
        cookie,
    }
}

fn stored(e: &Env) -> Vec<u8> {
    std::fs::read(e.store.profile_path()).unwrap()
}

fn effective(e: &Env, name: &str) -> String {
    e.store
        .load()
        .unwrap()
        .unwrap()
        .effective(name)
        .unwrap()
        .into_owned()
}

#[tokio::test]
async fn unauthenticated_requests_never_get_content() {
    let e = env("");
    let r = send(&e.app, get("/", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("action=\"/login\"") && r.body.contains("type=\"password\""));
    let gets = [
        "/status",
        "/status.json",
        "/tab/System",
        "/tab/Ext1",
        "/tab/Nope",
        "/admin",
        "/admin/config.xml",
        "/admin/config.xml?secrets=1",
        "/nonexistent",
    ];
    for path in gets {
        let r = send(&e.app, get(path, None)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "GET {path}");
        assert!(!r.body.contains("Submit All Changes") && !r.body.contains("<flat-profile"));
    }
    // A forged or stale cookie is no better.
    let r = send(&e.app, get("/status", Some("mppd_session=00ff"))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let posts = [
        "/tab/System",
        "/admin/resync",
        "/admin/reboot",
        "/logout",
        "/admin/config.xml",
    ];
    for path in posts {
        let r = send(
            &e.app,
            post_form(path, None, &[("csrf", "x"), ("v:Enable_Web_Server", "No")]),
        )
        .await;
        assert!(
            matches!(r.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN),
            "POST {path}: {}",
            r.status
        );
    }
    let r = send(
        &e.app,
        Request::post("/admin/config.xml")
            .header(header::CONTENT_TYPE, "application/xml")
            .body(Body::from(
                "<flat-profile><Admin_Password>x</Admin_Password></flat-profile>",
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(e.hooks.events().is_empty());
    assert_eq!(effective(&e, "Admin_Password"), ADMIN_PW);
}

#[tokio::test]
async fn login_logout_and_cookie_flags() {
    let e = env("");
    assert_eq!(
        try_login(&e.app, "admin", "wrong").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        try_login(&e.app, "user", ADMIN_PW).await.status,
        StatusCode::UNAUTHORIZED
    );
    // No login token: refused before the password is looked at.
    let r = send(
        &e.app,
        post_form(
            "/login",
            None,
            &[("account", "admin"), ("password", ADMIN_PW)],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = try_login(&e.app, "admin", ADMIN_PW).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let c = r.set_cookie("mppd_session").unwrap();
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && !c.contains("Secure"));
    let s = login(&e.app, "admin", ADMIN_PW).await;
    // Logged in, `/` goes to the status page.
    assert_eq!(
        send(&e.app, get("/", Some(&s.cookie))).await.status,
        StatusCode::SEE_OTHER
    );
    // Logout needs the CSRF token, then ends the session.
    let r = send(&e.app, post_form("/logout", Some(&s.cookie), &[])).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &e.app,
        post_form("/logout", Some(&s.cookie), &[("csrf", &s.csrf)]),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        send(&e.app, get("/status", Some(&s.cookie))).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Secure cookies over HTTPS.
    let e = env_with("", true);
    let r = try_login(&e.app, "user", USER_PW).await;
    assert!(r.set_cookie("mppd_session").unwrap().contains("; Secure"));
}

#[tokio::test]
async fn login_throttling_locks_out_and_expires() {
    let e = env("");
    for _ in 0..5 {
        assert_eq!(
            try_login(&e.app, "admin", "guess").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Even the right password is refused during the lockout.
    assert_eq!(
        try_login(&e.app, "admin", ADMIN_PW).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    e.clock.fetch_add(31, Ordering::SeqCst);
    assert_eq!(
        try_login(&e.app, "admin", ADMIN_PW).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn session_idle_and_max_timeouts() {
    let e = env(
        "<Session_Idle_Timeout>60</Session_Idle_Timeout><Session_Max_Timeout>100</Session_Max_Timeout>",
    );
    let s = login(&e.app, "user", USER_PW).await;
    e.clock.fetch_add(61, Ordering::SeqCst);
    assert_eq!(
        send(&e.app, get("/status", Some(&s.cookie))).await.status,
        StatusCode::UNAUTHORIZED
    );
    let s = login(&e.app, "user", USER_PW).await;
    for _ in 0..2 {
        e.clock.fetch_add(50, Ordering::SeqCst);
        assert_eq!(
            send(&e.app, get("/status", Some(&s.cookie))).await.status,
            StatusCode::OK
        );
    }
    e.clock.fetch_add(50, Ordering::SeqCst);
    assert_eq!(
        send(&e.app, get("/status", Some(&s.cookie))).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn web_admin_access_no_locks_the_admin_out() {
    let e = env("<Enable_Web_Admin_Access>No</Enable_Web_Admin_Access>");
    assert_eq!(
        try_login(&e.app, "admin", ADMIN_PW).await.status,
        StatusCode::FORBIDDEN
    );
    let basic = openssl::base64::encode_block(format!("admin:{ADMIN_PW}").as_bytes());
    let r = send(
        &e.app,
        Request::get("/admin/config.xml")
            .header(header::AUTHORIZATION, format!("Basic {basic}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // The user account still works.
    login(&e.app, "user", USER_PW).await;
}

#[tokio::test]
async fn admin_session_ends_when_admin_access_is_disabled() {
    let e = env("");
    let s = login(&e.app, "admin", ADMIN_PW).await;
    let r = send(
        &e.app,
        post_form(
            "/tab/System",
            Some(&s.cookie),
            &[("csrf", &s.csrf), ("v:Enable_Web_Admin_Access", "No")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        send(&e.app, get("/tab/System", Some(&s.cookie)))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn ua_rules_for_the_user_account() {
    let e = env("");
    let u = login(&e.app, "user", USER_PW).await;
    let page = send(&e.app, get("/tab/System", Some(&u.cookie))).await;
    assert_eq!(page.status, StatusCode::OK);
    // rw: editable; ro: shown disabled; na: absent.
    assert!(
        page.body
            .contains("<select name=\"v:Enable_802.1X_Authentication\">")
    );
    assert!(
        page.body
            .contains("<select name=\"v:Enable_Web_Server\" disabled>")
    );
    assert!(!page.body.contains("TLS_Min_Version"));
    assert!(!page.body.contains("v:Admin_Password"));
    // The user's own password: a secret field, shown as set, never its value.
    assert!(page.body.contains("name=\"v:User_Password\""));
    assert!(page.body.contains("(set)"));
    // Ext1: Password_1_ was made na by the profile.
    let ext = send(&e.app, get("/tab/Ext1", Some(&u.cookie))).await;
    assert!(!ext.body.contains("Password_1_"));
    // Admin-only pages.
    for path in ["/status.json", "/admin", "/admin/config.xml"] {
        assert_eq!(
            send(&e.app, get(path, Some(&u.cookie))).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let before = stored(&e);
    for (name, value) in [
        ("v:Enable_Web_Server", "No"),
        ("v:TLS_Min_Version", "TLS 1.0"),
        ("v:Admin_Password", "pwned"),
    ] {
        let r = send(
            &e.app,
            post_form(
                "/tab/System",
                Some(&u.cookie),
                &[
                    ("csrf", &u.csrf),
                    ("v:Enable_802.1X_Authentication", "Yes"),
                    (name, value),
                ],
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{name}");
        assert_eq!(stored(&e), before, "{name}");
    }
    let r = send(
        &e.app,
        post_form(
            "/tab/System",
            Some(&u.cookie),
            &[("csrf", &u.csrf), ("v:Enable_802.1X_Authentication", "Yes")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(effective(&e, "Enable_802.1X_Authentication"), "Yes");
    // The admin sees everything, editable.
    let a = login(&e.app, "admin", ADMIN_PW).await;
    let page = send(&e.app, get("/tab/System", Some(&a.cookie))).await;
    assert!(page.body.contains("<select name=\"v:Enable_Web_Server\">"));
    assert!(page.body.contains("name=\"v:TLS_Min_Version\""));
    assert!(page.body.contains("name=\"v:Admin_Password\""));
    let ext = send(&e.app, get("/tab/Ext1", Some(&a.cookie))).await;
    assert!(ext.body.contains("name=\"v:Password_1_\""));
}

#[tokio::test]
async fn csrf_is_required_on_every_post() {
    let e = env("");
    let a = login(&e.app, "admin", ADMIN_PW).await;
    let before = stored(&e);
    for token in [None, Some("0000"), Some("")] {
        let mut fields = vec![("v:Enable_802.1X_Authentication", "Yes")];
        if let Some(t) = token {
            fields.push(("csrf", t));
        }
        for path in ["/tab/System", "/admin/reboot", "/admin/resync", "/logout"] {
            let r = send(&e.app, post_form(path, Some(&a.cookie), &fields)).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path} {token:?}");
        }
    }
    // Another session's token does not do either.
    let other = login(&e.app, "admin", ADMIN_PW).await;
    let r = send(
        &e.app,
        post_form("/admin/reboot", Some(&a.cookie), &[("csrf", &other.csrf)]),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // XML upload with a session needs the X-CSRF-Token header.
    let r = send(
        &e.app,
        Request::post("/admin/config.xml")
            .header(header::COOKIE, &a.cookie)
            .header(header::CONTENT_TYPE, "application/xml")
            .body(Body::from(
                "<flat-profile><Firewall>Disabled</Firewall></flat-profile>",
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(stored(&e), before);
    assert!(e.hooks.events().is_empty());
    // With the token, the actions run.
    let r = send(
        &e.app,
        post_form("/admin/reboot", Some(&a.cookie), &[("csrf", &a.csrf)]),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = send(
        &e.app,
        post_form(
            "/admin/resync?url=http%3A%2F%2Fprov.example.com%2Fx.xml",
            Some(&a.cookie),
            &[("csrf", &a.csrf)],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(
        e.hooks.events(),
        vec!["reboot", "resync http://prov.example.com/x.xml"]
    );
}

#[tokio::test]
async fn invalid_submit_rerenders_with_errors_and_stores_nothing() {
    let e = env("");
    let a = login(&e.app, "admin", ADMIN_PW).await;
    let before = stored(&e);
    let r = send(
        &e.app,
        post_form(
            "/tab/System",
            Some(&a.cookie),
            &[
                ("csrf", &a.csrf),
                ("v:Enable_802.1X_Authentication", "Yes"),
                ("v:Web_Server_Port", "99999"),
                ("v:Admin_Password", "new-admin-pw"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // The error sits in the row of its field, which keeps the value typed.
    let row_at = r.body.find("id=\"f-Web_Server_Port\"").unwrap();
    let row = &r.body[row_at..row_at + r.body[row_at..].find("</tr>").unwrap()];
    assert!(row.contains("class=\"err\""), "{row}");
    assert!(row.contains("value=\"99999\""), "{row}");
    // The other rows carry no error.
    let ok_at = r
        .body
        .find("id=\"f-Enable_802.1X_Authentication\"")
        .unwrap();
    let ok_row = &r.body[ok_at..ok_at + r.body[ok_at..].find("</tr>").unwrap()];
    assert!(!ok_row.contains("class=\"err\""));
    // The new secret is not echoed back.
    assert!(!r.body.contains("new-admin-pw"));
    assert_eq!(stored(&e), before, "profile.xml changed");
    assert!(e.hooks.events().is_empty());
}

#[tokio::test]
async fn valid_submit_is_stored_atomically_and_applied() {
    let e = env("");
    let a = login(&e.app, "admin", ADMIN_PW).await;
    // Submitting the page as shown changes nothing (secrets empty, masked values unchanged).
    let page = send(&e.app, get("/tab/Provisioning", Some(&a.cookie))).await;
    assert!(page.body.contains("*****"), "masked rule credentials");
    let at = page.body.find("name=\"v:Profile_Rule\" value=\"").unwrap() + 29;
    let shown = page.body[at..].split('"').next().unwrap().to_owned();
    let before = stored(&e);
    let r = send(
        &e.app,
        post_form(
            "/tab/Provisioning",
            Some(&a.cookie),
            &[("csrf", &a.csrf), ("v:Profile_Rule", &shown)],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(stored(&e), before);
    assert!(e.hooks.events().is_empty());
    // Real changes: all stored in one write, applied once.
    let r = send(
        &e.app,
        post_form(
            "/tab/System",
            Some(&a.cookie),
            &[
                ("csrf", &a.csrf),
                ("v:Enable_802.1X_Authentication", "Yes"),
                ("v:Web_Server_Port", "8443"),
                ("v:Admin_Password", ""),
                ("v:User_Password", "n3w-user-pw"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers.get(header::LOCATION).unwrap(),
        "/tab/System?saved=1"
    );
    assert_eq!(effective(&e, "Enable_802.1X_Authentication"), "Yes");
    assert_eq!(effective(&e, "Web_Server_Port"), "8443");
    assert_eq!(effective(&e, "Admin_Password"), ADMIN_PW);
    assert_eq!(effective(&e, "User_Password"), "n3w-user-pw");
    assert_eq!(effective(&e, "Password_1_"), LINE_PW);
    assert_eq!(e.hooks.events(), vec!["applied"]);
    // The ua attributes were kept.
    let p = e.store.load().unwrap().unwrap();
    assert_eq!(p.ua("Enable_Web_Server").as_str(), "ro");
    // No leftover temporary files.
    let names: Vec<String> = std::fs::read_dir(e.store.dir())
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(names, vec!["profile.xml"]);
    let page = send(&e.app, get("/tab/System?saved=1", Some(&a.cookie))).await;
    assert!(page.body.contains("Changes applied."));
    assert!(!page.body.contains("n3w-user-pw"));
}

#[tokio::test]
async fn status_page_and_json_hide_secrets() {
    let e = env("");
    let a = login(&e.app, "admin", ADMIN_PW).await;
    let r = send(&e.app, get("/status.json", Some(&a.cookie))).await;
    assert_eq!(r.status, StatusCode::OK);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["device"]["serial"], "MPPD0000001");
    assert_eq!(v["web"]["admin_password_set"], true);
    assert_eq!(v["daemon"]["Proxy_Password"], "*****");
    assert!(!r.body.contains("whatever"));
    assert_eq!(v["web_events"][0]["event"], "admin logged in");
    assert_eq!(v["web_events"][0]["client"], "192.0.2.7");
    assert_eq!(r.headers.get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
    assert!(
        r.headers
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let u = login(&e.app, "user", USER_PW).await;
    let r = send(&e.app, get("/status", Some(&u.cookie))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("MPPD0000001") && r.body.contains("registration"));
}

#[tokio::test]
async fn config_xml_export_and_import() {
    let e = env("");
    let a = login(&e.app, "admin", ADMIN_PW).await;
    let r = send(&e.app, get("/admin/config.xml", Some(&a.cookie))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("<Admin_Password>*****</Admin_Password>"));
    assert!(
        r.body
            .contains("<Enable_Web_Server ua=\"ro\">Yes</Enable_Web_Server>")
    );
    // The admin asks for the secrets explicitly.
    let r = send_raw(&e.app, get("/admin/config.xml?secrets=1", Some(&a.cookie))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains(ADMIN_PW) && r.body.contains(LINE_PW));
    // HTTP Basic for provisioning tools.
    let basic = |pw: &str| {
        format!(
            "Basic {}",
            openssl::base64::encode_block(format!("admin:{pw}").as_bytes())
        )
    };
    let r = send(
        &e.app,
        Request::get("/admin/config.xml")
            .header(header::AUTHORIZATION, basic("nope"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let before = stored(&e);
    let bad = Request::post("/admin/config.xml")
        .header(header::AUTHORIZATION, basic(ADMIN_PW))
        .header(header::CONTENT_TYPE, "application/xml")
        .body(Body::from(format!(
            "<flat-profile><Web_Server_Port>0</Web_Server_Port><Firewall>Disabled</Firewall>\
             <Profile_Rule>https://prov:{RULE_PW}@prov.example.com/cfg.xml</Profile_Rule></flat-profile>"
        )))
        .unwrap();
    let r = send(&e.app, bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Both problems listed; the rule's password (which its parse error quotes) is masked.
    assert!(r.body.contains("Web_Server_Port") && r.body.contains("Profile_Rule"));
    assert_eq!(stored(&e), before);
    let r = send(
        &e.app,
        Request::post("/admin/config.xml")
            .header(header::COOKIE, &a.cookie)
            .header("x-csrf-token", &a.csrf)
            .header(header::CONTENT_TYPE, "application/xml")
            .body(Body::from(
                "<flat-profile><Firewall>Disabled</Firewall></flat-profile>",
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(effective(&e, "Firewall"), "Disabled");
    assert_eq!(effective(&e, "Admin_Password"), ADMIN_PW);
    assert_eq!(e.hooks.events(), vec!["applied"]);
}

#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The log lines of every test of this file: one global subscriber, installed by [`env_with`].
fn logs() -> &'static LogBuf {
    static LOGS: std::sync::OnceLock<LogBuf> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = LogBuf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buf
    })
}

#[tokio::test]
async fn no_secret_in_log_lines() {
    let e = env("");
    try_login(&e.app, "admin", USER_PW).await;
    try_login(&e.app, "user", ADMIN_PW).await;
    let a = login(&e.app, "admin", ADMIN_PW).await;
    let u = login(&e.app, "user", USER_PW).await;
    send(
        &e.app,
        post_form(
            "/tab/System",
            Some(&u.cookie),
            &[("csrf", &u.csrf), ("v:Admin_Password", LINE_PW)],
        ),
    )
    .await;
    send(
        &e.app,
        post_form(
            "/tab/System",
            Some(&a.cookie),
            &[
                ("csrf", &a.csrf),
                ("v:User_Password", "n3w-user-pw"),
                ("v:Web_Server_Port", "99999"),
            ],
        ),
    )
    .await;
    send(
        &e.app,
        post_form(
            "/tab/System",
            Some(&a.cookie),
            &[("csrf", &a.csrf), ("v:User_Password", "n3w-user-pw")],
        ),
    )
    .await;
    let url = format!("https://prov:{RULE_PW}@prov.example.com/x.xml");
    send(
        &e.app,
        post_form(
            "/admin/resync",
            Some(&a.cookie),
            &[("csrf", &a.csrf), ("url", &url)],
        ),
    )
    .await;
    send_raw(&e.app, get("/admin/config.xml?secrets=1", Some(&a.cookie))).await;
    send(&e.app, get("/status.json", Some(&a.cookie))).await;
    // Every test's lines so far, not only this one's.
    let logs = String::from_utf8(logs().0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("web: admin logged in"), "{logs}");
    assert!(logs.contains("web: admin requested a resync"), "{logs}");
    for s in SECRETS.iter().chain(&["n3w-user-pw"]) {
        assert!(!logs.contains(s), "secret {s} in the logs:\n{logs}");
    }
    // The resync hook got the URL as given.
    assert_eq!(
        e.hooks.events(),
        vec!["applied".to_owned(), format!("resync {url}")]
    );
}

/// The web UI's Directory page (issue 9): both accounts search the corporate directory of a
/// real slapd over ldaps with the profile's LDAP settings; the user's input is escaped; without
/// a session the page is refused; with `LDAP_Dir_Enable` No it says the directory is off.
#[tokio::test]
async fn the_directory_page_searches_ldap_for_both_accounts() {
    const PEOPLE: &str = "\
dn: uid=alice,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: alice
cn: Alice Smith
sn: Smith
telephoneNumber: 555 1212

dn: uid=bob,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: bob
cn: Bob Jones
sn: Jones
telephoneNumber: 555 3434
";
    let ca = mppd_testkit::TestCa::new("mppd web directory CA");
    let (cert, key) = ca.issue_server(
        &["localhost"],
        &["127.0.0.1".parse().unwrap()],
        None,
        mppd_testkit::Validity::Valid,
    );
    let slapd = mppd_testkit::Slapd::builder()
        .tls(&cert, &key, &ca.cert_path())
        .ldif(PEOPLE)
        .start();
    let ldap = |enabled: &str| {
        format!(
            "<LDAP_Dir_Enable>{enabled}</LDAP_Dir_Enable>\
             <LDAP_Server>ldaps://localhost:{}</LDAP_Server>\
             <LDAP_Search_Base>dc=example,dc=test</LDAP_Search_Base>\
             <LDAP_Last_Name_Filter>sn:(sn=*$VALUE*)</LDAP_Last_Name_Filter>\
             <LDAP_Display_Attrs>a=cn,n=Name;a=telephoneNumber,n=Work,t=p</LDAP_Display_Attrs>",
            slapd.ldaps_addr().port()
        )
    };
    let e = env(&ldap("Yes"));
    ca.install_into(e._dir.path(), "ldap-ca.pem");

    let anonymous = send(&e.app, get("/directory?q=Smith", None)).await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        anonymous.body
    );

    for (account, pw) in [("user", USER_PW), ("admin", ADMIN_PW)] {
        let s = login(&e.app, account, pw).await;
        let r = send(&e.app, get("/directory?q=Smith", Some(&s.cookie))).await;
        assert_eq!(r.status, StatusCode::OK, "{account}: {}", r.body);
        assert!(
            r.body.contains("Alice Smith") && r.body.contains("Work: 555 1212"),
            "{account}: {}",
            r.body
        );
        assert!(!r.body.contains("Bob Jones"), "{}", r.body);
        // The input is a value, not filter syntax: `*)(uid=*` finds nobody.
        let r = send(
            &e.app,
            get("/directory?q=%2A%29%28uid%3D%2A", Some(&s.cookie)),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(
            r.body.contains("No entry found") && !r.body.contains("Alice Smith"),
            "{}",
            r.body
        );
    }

    let off = env(&ldap("No"));
    let s = login(&off.app, "user", USER_PW).await;
    let r = send(&off.app, get("/directory?q=Smith", Some(&s.cookie))).await;
    assert!(r.body.contains("LDAP_Dir_Enable is No"), "{}", r.body);
    assert!(!r.body.contains("Alice Smith"), "{}", r.body);
}
