//! Shared by the HTTP tests: a real server on a loopback port, over a real
//! store, with a clock the test sets, service tokens for every role, and a
//! client that reads every status.
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chrono::{DateTime, TimeDelta, Utc};
use grantflow_core::Programme;
use grantflow_http::sign_in::totp_code;
use grantflow_http::{Audit, Programmes, Role, Server, Tokens};
use grantflow_postgres::PgOptions;
use grantflow_testkit::fixtures;
use serde_json::{Value, json};

/// The secret of each test token: `secret-<role>`; the applicant's acts
/// for `fixtures::applicant(1)`'s e-mail address, `secret-other` for
/// another applicant's.
pub const ROLES: [(&str, Option<Role>); 6] = [
    ("anonymous", None),
    ("secret-applicant", Some(Role::Applicant)),
    ("secret-assessor", Some(Role::Assessor)),
    ("secret-finance", Some(Role::Finance)),
    ("secret-auditor", Some(Role::Auditor)),
    ("secret-admin", Some(Role::Admin)),
];

pub fn tokens() -> Tokens {
    let mut t = Tokens::default();
    for (secret, role) in ROLES {
        if let Some(role) = role {
            let email = (role == Role::Applicant).then(|| fixtures::applicant(1).contact.email);
            t.insert(secret, &format!("{role}-1"), role, email.as_deref());
        }
    }
    t.insert(
        "secret-other",
        "applicant-2",
        Role::Applicant,
        Some(&fixtures::applicant(2).contact.email),
    );
    t
}

/// An audit log the test can read.
#[derive(Clone, Default)]
pub struct Lines(pub Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("audit buffer").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    pub fn records(&self) -> Vec<Value> {
        let text = String::from_utf8(self.0.lock().expect("audit buffer").clone()).expect("utf-8");
        text.lines()
            .map(|l| serde_json::from_str(l).expect("an audit line is JSON"))
            .collect()
    }
}

/// A running server: its base URL, its clock and its audit log.
pub struct Running {
    pub base: String,
    pub clock: Arc<Mutex<DateTime<Utc>>>,
    pub audit: Lines,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    agent: ureq::Agent,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What a request got back.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub replayed: bool,
    pub body: Value,
    pub text: String,
    pub headers: ureq::http::HeaderMap,
}

impl Reply {
    /// A response header as text (empty when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

pub fn start(programmes: Box<dyn Programmes>) -> Running {
    start_with(programmes, |server| server)
}

/// A server as [`start`] makes it, changed by `configure` (records, mailer,
/// trusted proxies) before it serves.
pub fn start_with(
    programmes: Box<dyn Programmes>,
    configure: impl FnOnce(Server) -> Server,
) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    listener.set_nonblocking(true).expect("non-blocking");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let clock = Arc::new(Mutex::new(fixtures::day(0)));
    let audit = Lines::default();
    let server = {
        let clock = Arc::clone(&clock);
        configure(Server::with_clock(
            programmes,
            tokens(),
            Audit::new(audit.clone()),
            Arc::new(move || *clock.lock().expect("clock")),
        ))
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        // The server is dropped after the runtime stops, outside it: the
        // synchronous PostgreSQL client may not be dropped inside one.
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            server
                .serve(listener, async move {
                    let _ = stopped.await;
                })
                .await
                .expect("the server runs");
        });
        drop(runtime);
        drop(server);
    });
    // A connection per request: a kept-alive connection that the server
    // closes just as the next request goes out fails that request with
    // nothing to tell why (seen once under a loaded CI run), and no test
    // here is about connection reuse.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .build()
        .into();
    Running {
        base,
        clock,
        audit,
        stop: Some(stop),
        thread: Some(thread),
        agent,
    }
}

impl Running {
    /// Sends a request; `token` is a secret or `anonymous`.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let raw = body.map(|b| serde_json::to_vec(b).expect("JSON"));
        self.send_raw(method, path, token, key, raw.as_deref())
    }

    pub fn send_raw(
        &self,
        method: &str,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: Option<&[u8]>,
    ) -> Reply {
        let mut headers = Vec::new();
        let bearer = format!("Bearer {token}");
        if token != "anonymous" {
            headers.push(("authorization", bearer.as_str()));
        }
        if let Some(key) = key {
            headers.push(("idempotency-key", key));
        }
        self.call(method, path, &headers, body)
    }

    /// Sends a JSON request with these headers and no others.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        let url = format!("{}{path}", self.base);
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            request = request.header("content-type", "application/json");
        }
        let request = request
            .body(body.map(<[u8]>::to_vec).unwrap_or_default())
            .expect("a request");
        let mut response = self.agent.run(request).expect("the server answers");
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let content_type = header("content-type");
        let replayed = header("idempotent-replayed") == "true";
        let headers = response.headers().clone();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .expect("a body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            content_type,
            replayed,
            body,
            text,
            headers,
        }
    }

    /// Opens `programme` as the admin; panics unless it was recorded.
    pub fn open(&self, id: &str, mut programme: Programme) {
        programme.id = id.to_string();
        let rules = serde_json::to_value(&programme).expect("rules");
        let r = self.send(
            "PUT",
            &format!("/programmes/{id}"),
            "secret-admin",
            Some(&format!("open-{id}")),
            Some(&rules),
        );
        assert_eq!(r.status, 200, "open: {}", r.text);
    }
}

/// A submission of `fixtures::applicant(n)` under `reference`.
pub fn submission(reference: &str, n: u64) -> Value {
    json!({
        "reference": reference,
        "applicant": fixtures::applicant(n),
        "request": fixtures::request(),
    })
}

/// The PostgreSQL URL and options for a schema of this test's own, or
/// `None` (said on standard error) when `GRANTFLOW_PG_URL` is unset; under
/// CI an unset URL fails the test.
pub fn postgres(test: &str) -> Option<(String, PgOptions)> {
    let url = match std::env::var("GRANTFLOW_PG_URL") {
        Ok(url) => url,
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("{test}: GRANTFLOW_PG_URL is unset; CI must provide PostgreSQL")
        }
        Err(_) => {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: set GRANTFLOW_PG_URL to run it (under CI this fails)"
            );
            return None;
        }
    };
    let schema = format!(
        "gf_http_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_subsec_nanos()
    );
    let options = PgOptions {
        schema: Some(schema),
        ..PgOptions::default()
    };
    Some((url, options))
}

/// Drops the test's schema and everything in it.
pub fn drop_schema(store: &mut grantflow_postgres::PostgresStore, options: &PgOptions) {
    if let Some(schema) = &options.schema {
        store
            .client()
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .expect("drop the test schema");
    }
}

/// The password the tests' staff accounts are given.
pub const PASSWORD: &str = "violet tractor mango lighthouse";

pub fn post(s: &Running, path: &str, headers: &[(&str, &str)], body: &Value) -> Reply {
    let raw = serde_json::to_vec(body).expect("JSON");
    s.call("POST", path, headers, Some(&raw))
}

pub fn unix(s: &Running) -> u64 {
    u64::try_from(s.clock.lock().expect("clock").timestamp()).expect("after 1970")
}

pub fn advance(s: &Running, by: TimeDelta) {
    *s.clock.lock().expect("clock") += by;
}

/// The `name=value` part of the session cookie a reply sets.
pub fn cookie(r: &Reply) -> String {
    let set = r.header("set-cookie");
    set.split(';').next().unwrap_or("").trim().to_string()
}

/// Makes a staff account through the API (an admin's token), sets its
/// password and second factor by the setup link, and returns the second
/// factor's secret. The clock moves on one TOTP step, so the next code is new.
pub fn set_up(s: &Running, email: &str, role: &str) -> String {
    let made = post(
        s,
        "/users",
        &[("authorization", "Bearer secret-admin")],
        &json!({ "email": email, "role": role }),
    );
    assert_eq!(made.status, 201, "{}", made.text);
    let token = made.body["setup_token"]
        .as_str()
        .expect("a setup token")
        .to_string();
    let set = post(
        s,
        "/account/setup",
        &[],
        &json!({ "token": token, "password": PASSWORD }),
    );
    assert_eq!(set.status, 200, "{}", set.text);
    let secret = set.body["secret"]
        .as_str()
        .expect("a TOTP secret")
        .to_string();
    assert!(
        set.body["otpauth_uri"]
            .as_str()
            .is_some_and(|u| u.starts_with("otpauth://totp/")),
        "{}",
        set.text
    );
    let code = totp_code(&secret, unix(s)).expect("a code");
    let confirmed = post(
        s,
        "/account/setup/confirm",
        &[],
        &json!({ "token": token, "totp": code }),
    );
    assert_eq!(confirmed.status, 204, "{}", confirmed.text);
    advance(s, TimeDelta::seconds(30));
    secret
}

pub fn sign_in(s: &Running, email: &str, password: &str, secret: &str) -> Reply {
    let code = totp_code(secret, unix(s)).expect("a code");
    post(
        s,
        "/sign-in/password",
        &[],
        &json!({ "email": email, "password": password, "totp": code }),
    )
}

/// Sends sign-in codes through the SMTP server `sink` (aiosmtpd).
pub fn mailer(
    sink: &grantflow_testkit::smtp::SmtpSink,
) -> impl Fn(&grantflow_http::Email, &str, &str) -> Result<(), String> + Send + Sync + use<> {
    let mut config = grantflow_email::EmailConfig::new(
        "127.0.0.1",
        sink.port(),
        "grantflow <sign-in@programme.example>",
    );
    config.timeout = std::time::Duration::from_secs(10);
    let notifier = grantflow_email::EmailNotifier::new(config).expect("an SMTP client");
    move |to: &grantflow_http::Email, subject: &str, body: &str| {
        notifier
            .send_text(to.as_str(), subject, body)
            .map_err(|e| e.to_string())
    }
}
