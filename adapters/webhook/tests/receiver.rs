//! The webhook notifier against a real HTTP receiver on 127.0.0.1 (a
//! `tiny_http` server in the test) that checks every signature with the
//! public [`verify`], fails the first deliveries with 503 and refuses one
//! chosen notice with 400; driven by the outbox dispatcher.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use grantflow_core::OutboxStatus;
use grantflow_core::{
    DeliveryError, EventStore, InMemoryStore, Notice, NoticeId, Notifier, ProgrammeId, Role,
};
use grantflow_dispatch::{DispatchConfig, Dispatcher, Shutdown};
use grantflow_webhook::{
    DEFAULT_TOLERANCE, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP, Payload, Secret, VerifyError,
    WebhookConfig, WebhookNotifier, unix_now, verify,
};

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
struct Seen {
    id: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
    verified: Result<(), VerifyError>,
    answered: u16,
}

#[derive(Default)]
struct Behaviour {
    /// Answer 503 to this many requests first.
    fail_first: usize,
    /// Answer 400 to these notice ids.
    refuse: HashSet<String>,
}

struct Receiver {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Receiver {
    fn start(secret: Secret, behaviour: Behaviour) -> Receiver {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (Arc::clone(&seen), Arc::clone(&stop));
        let count = AtomicUsize::new(0);
        let handle = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                let Ok(Some(mut request)) = server.recv_timeout(Duration::from_millis(20)) else {
                    continue;
                };
                let header = |name: &str| {
                    request
                        .headers()
                        .iter()
                        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
                        .map(|h| h.value.as_str().to_string())
                        .unwrap_or_default()
                };
                let (id, timestamp, signature) = (
                    header(HEADER_ID),
                    header(HEADER_TIMESTAMP),
                    header(HEADER_SIGNATURE),
                );
                let mut body = Vec::new();
                let _ = request.as_reader().read_to_end(&mut body);
                let verified = verify(
                    &secret,
                    &id,
                    &timestamp,
                    &signature,
                    &body,
                    unix_now(),
                    DEFAULT_TOLERANCE,
                );
                let n = count.fetch_add(1, Ordering::SeqCst);
                let path_status = request
                    .url()
                    .strip_prefix("/status/")
                    .and_then(|s| s.parse::<u16>().ok());
                let answered = if verified.is_err() {
                    401
                } else if let Some(s) = path_status {
                    s
                } else if n < behaviour.fail_first {
                    503
                } else if behaviour.refuse.contains(&id) {
                    400
                } else {
                    204
                };
                seen2.lock().unwrap().push(Seen {
                    id,
                    timestamp,
                    signature,
                    body,
                    verified,
                    answered,
                });
                let _ = request.respond(tiny_http::Response::empty(answered));
            }
        });
        Receiver {
            port,
            seen,
            stop,
            handle: Some(handle),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn secret() -> Secret {
    Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()
}

fn notice(name: &str) -> Notice {
    let mut data = BTreeMap::new();
    data.insert(
        "programme".into(),
        "Healthcare Cyber Essentials 2020".into(),
    );
    data.insert("organisation".into(), "Acme Medical Supplies".into());
    data.insert("amount".into(), "1400.00".into());
    Notice {
        id: NoticeId::from_name(name),
        template: "claim_paid".into(),
        recipient: Role::Applicant,
        to: Some("office@acme.example".into()),
        application: None,
        data,
    }
}

fn notifier(url: String) -> WebhookNotifier {
    WebhookNotifier::new(WebhookConfig::new(url, secret()).timeout(Duration::from_secs(2))).unwrap()
}

fn programme() -> ProgrammeId {
    ProgrammeId::new("healthcare-ce-2020")
}

/// Polls `done` every 10 ms for at most `limit`.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    done()
}

#[test]
fn deliveries_are_signed_retried_with_backoff_and_a_400_is_dead_lettered() {
    let names = ["n1", "n2", "n3", "n4", "refused"];
    let refused = NoticeId::from_name("refused").to_string();
    let receiver = Receiver::start(
        secret(),
        Behaviour {
            fail_first: 3,
            refuse: HashSet::from([refused.clone()]),
        },
    );
    let mut store = InMemoryStore::new();
    let notices: Vec<_> = names.iter().map(|n| notice(n)).collect();
    store.append(&programme(), 0, &[], &notices).unwrap();

    let config = DispatchConfig {
        batch_size: 10,
        max_attempts: 6,
        base_delay: Duration::from_millis(40),
        max_delay: Duration::from_millis(200),
        poll_interval: Duration::from_millis(10),
        ..DispatchConfig::default()
    };
    let mut dispatcher =
        Dispatcher::new(store.clone(), notifier(receiver.url("/hook")), config).unwrap();
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    let runner = std::thread::spawn(move || dispatcher.run(&stop));
    let settled = wait_until(Duration::from_secs(30), || {
        store
            .outbox_entries()
            .iter()
            .all(|e| e.status != OutboxStatus::Pending)
    });
    shutdown.trigger();
    let report = runner.join().unwrap().unwrap();
    assert!(settled, "not settled: {:?}", store.outbox_entries());

    let seen = receiver.seen();
    assert!(
        seen.iter().all(|s| s.verified.is_ok()),
        "every request carries a valid signature: {seen:?}"
    );
    assert_eq!(seen.iter().filter(|s| s.answered == 503).count(), 3);
    // Each good notice reached the receiver exactly once with a 2xx, under its notice id.
    let mut delivered: Vec<_> = seen
        .iter()
        .filter(|s| s.answered == 204)
        .map(|s| s.id.clone())
        .collect();
    delivered.sort();
    let mut expected: Vec<_> = names[..4]
        .iter()
        .map(|n| NoticeId::from_name(n).to_string())
        .collect();
    expected.sort();
    assert_eq!(delivered, expected);
    // The refused notice was tried once and dead-lettered.
    assert_eq!(seen.iter().filter(|s| s.id == refused).count(), 1);
    let entries = store.outbox_entries();
    let dead: Vec<_> = entries
        .iter()
        .filter(|e| e.status == OutboxStatus::DeadLetter)
        .collect();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].notice.id.to_string(), refused);
    assert!(
        dead[0].last_error.as_deref().unwrap().contains("400"),
        "{:?}",
        dead[0].last_error
    );
    // The three 503s were retried: three notices needed a second attempt.
    let retried: Vec<_> = entries
        .iter()
        .filter(|e| e.status == OutboxStatus::Delivered && e.attempts > 1)
        .collect();
    assert_eq!(retried.len(), 3, "{entries:?}");
    assert!(
        retried
            .iter()
            .all(|e| e.last_error.as_deref().is_some_and(|m| m.contains("503")))
    );
    assert_eq!(
        (report.delivered, report.retried, report.dead_lettered),
        (4, 3, 1)
    );

    // Each retried notice was first refused with 503, then accepted.
    let by_id: HashMap<&str, Vec<&Seen>> = seen.iter().fold(HashMap::new(), |mut m, s| {
        m.entry(s.id.as_str()).or_default().push(s);
        m
    });
    for e in &retried {
        let attempts = &by_id[e.notice.id.to_string().as_str()];
        assert!(attempts.len() >= 2);
        assert_eq!(attempts[0].answered, 503);
        assert_eq!(attempts.last().unwrap().answered, 204);
    }

    // Requeued, the refused notice is tried again (and refused again).
    let mut again = Dispatcher::new(
        store.clone(),
        notifier(receiver.url("/hook")),
        DispatchConfig::default(),
    )
    .unwrap();
    assert_eq!(again.requeue_dead_letters(10).unwrap(), 1);
    let r = again.drain().unwrap();
    assert_eq!((r.claimed, r.dead_lettered), (1, 1));
    assert_eq!(
        receiver.seen().iter().filter(|s| s.id == refused).count(),
        2
    );
}

#[test]
fn the_body_is_the_notice_as_json() {
    let receiver = Receiver::start(secret(), Behaviour::default());
    let n = notice("body");
    notifier(receiver.url("/hook"))
        .deliver(&programme(), &n)
        .unwrap();
    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    let payload: Payload = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(payload.kind, "claim_paid");
    assert_eq!(payload.data.id, n.id);
    assert_eq!(seen[0].id, n.id.to_string());
    assert_eq!(payload.data.programme, programme());
    assert_eq!(payload.data.recipient, Role::Applicant);
    assert_eq!(payload.data.to.as_deref(), Some("office@acme.example"));
    assert_eq!(
        payload.data.values.get("amount").map(String::as_str),
        Some("1400.00")
    );
    let ts: i64 = seen[0].timestamp.parse().unwrap();
    assert!((unix_now() - ts).abs() < 60);
    assert!(
        payload.timestamp.ends_with('Z') && payload.timestamp.len() == 20,
        "{}",
        payload.timestamp
    );
}

#[test]
fn statuses_from_a_real_server_are_classified() {
    let receiver = Receiver::start(secret(), Behaviour::default());
    let n = notice("status");
    let deliver = |status: u16| {
        notifier(receiver.url(&format!("/status/{status}"))).deliver(&programme(), &n)
    };
    for s in [200, 202, 204] {
        assert_eq!(deliver(s), Ok(()), "{s}");
    }
    for s in [408, 429, 500, 502, 503] {
        assert!(
            matches!(deliver(s), Err(DeliveryError::Retryable(m)) if m.contains(&s.to_string())),
            "{s}"
        );
    }
    for s in [301, 400, 401, 404, 410, 422] {
        assert!(
            matches!(deliver(s), Err(DeliveryError::Permanent(m)) if m.contains(&s.to_string())),
            "{s}"
        );
    }
}

#[test]
fn a_refused_connection_and_a_timeout_are_retryable() {
    // Refused: a port that was free a moment ago and has no listener now.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let refused =
        notifier(format!("http://127.0.0.1:{port}/hook")).deliver(&programme(), &notice("refused"));
    assert!(
        matches!(refused, Err(DeliveryError::Retryable(_))),
        "{refused:?}"
    );

    // Timeout: a listener that accepts and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let hold = std::thread::spawn(move || {
        let conn = silent.accept();
        std::thread::sleep(Duration::from_millis(1500));
        drop(conn);
    });
    let slow = WebhookNotifier::new(
        WebhookConfig::new(format!("http://127.0.0.1:{port}/hook"), secret())
            .timeout(Duration::from_millis(300)),
    )
    .unwrap();
    let timed_out = slow.deliver(&programme(), &notice("slow"));
    assert!(
        matches!(&timed_out, Err(DeliveryError::Retryable(m)) if m.to_lowercase().contains("timeout") || m.to_lowercase().contains("timed out")),
        "{timed_out:?}"
    );
    hold.join().unwrap();
}

#[test]
fn verify_refuses_a_tampered_body_a_stale_timestamp_and_a_wrong_secret() {
    let receiver = Receiver::start(secret(), Behaviour::default());
    notifier(receiver.url("/hook"))
        .deliver(&programme(), &notice("verify"))
        .unwrap();
    let s = receiver.seen().pop().unwrap();
    let now: i64 = s.timestamp.parse().unwrap();
    let tol = DEFAULT_TOLERANCE;
    assert_eq!(
        verify(
            &secret(),
            &s.id,
            &s.timestamp,
            &s.signature,
            &s.body,
            now,
            tol
        ),
        Ok(())
    );

    // Tampered body: one byte changed.
    let mut tampered = s.body.clone();
    let pos = tampered.windows(7).position(|w| w == b"1400.00").unwrap();
    tampered[pos] = b'9';
    assert_eq!(
        verify(
            &secret(),
            &s.id,
            &s.timestamp,
            &s.signature,
            &tampered,
            now,
            tol
        ),
        Err(VerifyError::SignatureMismatch)
    );
    // Tampered id or timestamp: the signature covers them too.
    assert_eq!(
        verify(
            &secret(),
            "other-id",
            &s.timestamp,
            &s.signature,
            &s.body,
            now,
            tol
        ),
        Err(VerifyError::SignatureMismatch)
    );
    let shifted = (now - 1).to_string();
    assert_eq!(
        verify(&secret(), &s.id, &shifted, &s.signature, &s.body, now, tol),
        Err(VerifyError::SignatureMismatch)
    );

    // Stale: checked the request ten minutes later; and one from the future.
    assert_eq!(
        verify(
            &secret(),
            &s.id,
            &s.timestamp,
            &s.signature,
            &s.body,
            now + 600,
            tol
        ),
        Err(VerifyError::TimestampTooOld {
            age_secs: 600,
            tolerance_secs: 300
        })
    );
    assert_eq!(
        verify(
            &secret(),
            &s.id,
            &s.timestamp,
            &s.signature,
            &s.body,
            now - 600,
            tol
        ),
        Err(VerifyError::TimestampInFuture {
            ahead_secs: 600,
            tolerance_secs: 300
        })
    );

    // Wrong secret.
    let other = Secret::from_bytes(*b"another-secret-of-32-bytes-long!").unwrap();
    assert_eq!(
        verify(&other, &s.id, &s.timestamp, &s.signature, &s.body, now, tol),
        Err(VerifyError::SignatureMismatch)
    );

    // Malformed headers.
    assert_eq!(
        verify(&secret(), "", &s.timestamp, &s.signature, &s.body, now, tol),
        Err(VerifyError::MissingId)
    );
    assert!(matches!(
        verify(
            &secret(),
            &s.id,
            "yesterday",
            &s.signature,
            &s.body,
            now,
            tol
        ),
        Err(VerifyError::MalformedTimestamp(_))
    ));
    assert_eq!(
        verify(&secret(), &s.id, &s.timestamp, "v2,abc", &s.body, now, tol),
        Err(VerifyError::NoV1Signature)
    );
    // Several signatures (a secret being rotated): one match is enough.
    let both = format!("v1,AAAA {}", s.signature);
    assert_eq!(
        verify(&secret(), &s.id, &s.timestamp, &both, &s.body, now, tol),
        Ok(())
    );

    // The receiver itself refuses what does not verify, with 401.
    let wrong = WebhookNotifier::new(WebhookConfig::new(receiver.url("/hook"), other)).unwrap();
    let refused = wrong.deliver(&programme(), &notice("wrong-secret"));
    assert!(matches!(refused, Err(DeliveryError::Permanent(m)) if m.contains("401")));
    let last = receiver.seen().pop().unwrap();
    assert_eq!(last.verified, Err(VerifyError::SignatureMismatch));

    // A sender whose clock is an hour slow is refused as stale.
    let slow_clock = WebhookNotifier::new(WebhookConfig::new(receiver.url("/hook"), secret()))
        .unwrap()
        .with_clock(|| unix_now() - 3600);
    assert!(
        matches!(slow_clock.deliver(&programme(), &notice("stale")), Err(DeliveryError::Permanent(m)) if m.contains("401"))
    );
    assert!(matches!(
        receiver.seen().pop().unwrap().verified,
        Err(VerifyError::TimestampTooOld { .. })
    ));
}
