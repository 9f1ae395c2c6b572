//! Notification throughput: notices per second drained by the outbox
//! dispatcher to a local webhook receiver, next to the receiver's own raw
//! request rate measured the same way (one client, sequential POSTs over a
//! kept-alive connection) in the same run.
//!
//! Run with `cargo bench -p grantflow-webhook --bench throughput`
//! (`-- --notices N --reps R` to change the size; default 2000 notices, 5 repetitions).
//!
//! Rows:
//! - `raw POST`: the same HTTP client and settings POST a fixed, pre-signed
//!   body with the same headers, with no per-request work: the receiver's rate.
//! - `WebhookNotifier::deliver`: JSON encoding and signing added, no outbox.
//! - `drain, in-memory outbox`: the dispatcher claims, delivers and acknowledges.
//! - `drain, SQLite outbox`: the same from a SQLite file (`synchronous=FULL`:
//!   each acknowledgement is a durable commit).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use grantflow_core::{EventStore, InMemoryStore, Notice, NoticeId, Notifier, ProgrammeId, Role};
use grantflow_dispatch::{DispatchConfig, Dispatcher};
use grantflow_sqlite::SqliteStore;
use grantflow_webhook::{Secret, WebhookConfig, WebhookNotifier};

struct Receiver {
    port: u16,
    served: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    /// Reads each request's body and answers 204.
    fn start() -> Receiver {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = server.server_addr().to_ip().map(|a| a.port()).unwrap_or(0);
        let served = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (served2, stop2) = (Arc::clone(&served), Arc::clone(&stop));
        let handle = std::thread::spawn(move || {
            let mut body = Vec::with_capacity(4096);
            while !stop2.load(Ordering::Relaxed) {
                let Ok(Some(mut request)) = server.recv_timeout(Duration::from_millis(20)) else {
                    continue;
                };
                body.clear();
                let _ = request.as_reader().read_to_end(&mut body);
                served2.fetch_add(1, Ordering::Relaxed);
                let _ = request.respond(tiny_http::Response::empty(204));
            }
        });
        Receiver {
            port,
            served,
            stop,
            handle: Some(handle),
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn notices(n: usize, run: &str) -> Vec<Notice> {
    (0..n)
        .map(|i| {
            let mut data = BTreeMap::new();
            data.insert(
                "programme".to_string(),
                "Healthcare Cyber Essentials 2020".to_string(),
            );
            data.insert("organisation".to_string(), format!("Applicant {i} Ltd"));
            data.insert("date".to_string(), "2020-10-01".to_string());
            data.insert("amount".to_string(), "1400.00".to_string());
            data.insert("item".to_string(), "certification_fee".to_string());
            data.insert("invoice_ref".to_string(), format!("INV-{i}"));
            Notice {
                id: NoticeId::from_name(&format!("{run}-{i}")),
                template: "claim_paid".into(),
                recipient: Role::Applicant,
                to: Some(format!("office{i}@applicant.example")),
                application: None,
                data,
            }
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn secret() -> Secret {
    Secret::from_bytes(*b"bench-secret-bench-secret-32-byt").expect("32 bytes")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let n = arg("--notices", 2000).max(1);
    let reps = arg("--reps", 5).max(1);
    let receiver = Receiver::start();
    let url = format!("http://127.0.0.1:{}/hook", receiver.port);
    let programme = ProgrammeId::new("bench");
    let config = DispatchConfig {
        batch_size: 100,
        ..DispatchConfig::default()
    };
    let sample_body = serde_json::to_vec(&grantflow_webhook::Payload::new(
        &programme,
        &notices(1, "sample")[0],
        1_600_000_000,
    ))
    .unwrap_or_default();
    let sample_signature = grantflow_webhook::sign(
        &secret(),
        "00000000-0000-0000-0000-000000000000",
        1_600_000_000,
        &sample_body,
    );
    let dir = std::env::temp_dir().join(format!("grantflow-webhook-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);

    let mut rows: Vec<(&str, Vec<f64>)> = vec![
        ("raw POST (the receiver's rate)", Vec::new()),
        ("WebhookNotifier::deliver, no outbox", Vec::new()),
        ("drain, in-memory outbox", Vec::new()),
        ("drain, SQLite outbox (synchronous=FULL)", Vec::new()),
    ];
    for rep in 0..reps {
        // Raw: the same client library and headers, a fixed pre-signed body.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let start = Instant::now();
        for _ in 0..n {
            if let Ok(r) = agent
                .post(&url)
                .header("content-type", "application/json")
                .header("webhook-id", "00000000-0000-0000-0000-000000000000")
                .header("webhook-timestamp", "1600000000")
                .header("webhook-signature", &sample_signature)
                .send(&sample_body[..])
            {
                let _ = r.into_body().read_to_vec();
            }
        }
        rows[0].1.push(n as f64 / start.elapsed().as_secs_f64());

        // The notifier alone.
        let notifier =
            WebhookNotifier::new(WebhookConfig::new(url.clone(), secret())).expect("notifier");
        let batch = notices(n, &format!("direct-{rep}"));
        let start = Instant::now();
        let ok = batch
            .iter()
            .filter(|x| notifier.deliver(&programme, x).is_ok())
            .count();
        rows[1].1.push(ok as f64 / start.elapsed().as_secs_f64());

        // The dispatcher over the in-memory outbox.
        let mut store = InMemoryStore::new();
        store
            .append(&programme, 0, &[], &notices(n, &format!("memory-{rep}")))
            .expect("queue");
        let notifier =
            WebhookNotifier::new(WebhookConfig::new(url.clone(), secret())).expect("notifier");
        let mut d = Dispatcher::new(store, notifier, config.clone()).expect("dispatcher");
        let start = Instant::now();
        let report = d.drain().expect("drain");
        rows[2]
            .1
            .push(report.delivered as f64 / start.elapsed().as_secs_f64());

        // The dispatcher over a SQLite outbox.
        let path = dir.join(format!("outbox-{rep}.db"));
        let mut store = SqliteStore::open(&path).expect("sqlite");
        store
            .append(&programme, 0, &[], &notices(n, &format!("sqlite-{rep}")))
            .expect("queue");
        let notifier =
            WebhookNotifier::new(WebhookConfig::new(url.clone(), secret())).expect("notifier");
        let mut d = Dispatcher::new(store, notifier, config.clone()).expect("dispatcher");
        let start = Instant::now();
        let report = d.drain().expect("drain");
        rows[3]
            .1
            .push(report.delivered as f64 / start.elapsed().as_secs_f64());
        drop(d);
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(path.with_extension("db-wal"));
        let _ = std::fs::remove_file(path.with_extension("db-shm"));
    }
    let _ = std::fs::remove_dir_all(&dir);

    let raw = median(rows[0].1.clone());
    println!(
        "{n} notices per run, {reps} runs, median; receiver: tiny_http on 127.0.0.1, one thread, 204 per request"
    );
    println!(
        "({} requests served)",
        receiver.served.load(Ordering::Relaxed)
    );
    println!();
    println!("| path | notices (requests) per second | share of the receiver's raw rate |");
    println!("| --- | ---: | ---: |");
    for (name, v) in rows {
        let m = median(v);
        println!(
            "| {name} | {m:.0} | {:.0}% |",
            if raw > 0.0 { 100.0 * m / raw } else { 0.0 }
        );
    }
}
