//! Fault test: a dispatcher process SIGKILLed while it is inside
//! `acknowledge`, then restarted. The outbox is a SQLite file; the notifier
//! appends each delivered notice id to a file, which survives the kills.
//!
//! Two dispatchers are killed, each in its N-th acknowledge:
//!
//! 1. *inside the store's write*: the test holds the database's write lock
//!    (`BEGIN IMMEDIATE` on its own connection), so the child's UPDATE waits
//!    inside SQLite for the lock; the child is killed there. That notice was
//!    delivered and never acknowledged: it must be pending afterwards and
//!    delivered again.
//! 2. *after the store's write, before `acknowledge` returns*: the commit
//!    happened, so the notice must stay delivered and not come again.
//!
//! A third dispatcher then runs to the end: every notice was delivered at
//! least once, the outbox holds them all as delivered, and the file passes
//! SQLite's integrity check.
//!
//! The dispatcher processes are this test binary run again with
//! `ACK_KILL_CHILD` set: the same test function then acts as the child.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use grantflow_core::{
    DeliveryError, EventStore, Notice, NoticeId, Notifier, Outbox, OutboxEntry, OutboxStatus,
    ProgrammeId, Role, StoreError,
};
use grantflow_dispatch::{DispatchConfig, Dispatcher};
use grantflow_sqlite::SqliteStore;

const CHILD_ENV: &str = "ACK_KILL_CHILD";
const TEST_NAME: &str = "a_dispatcher_killed_inside_acknowledge_loses_no_notice";
const NOTICES: usize = 60;
/// The acknowledge (counted per process, 1-based) in which a child is killed.
const KILL_AT_ACK: usize = 8;
const DB: &str = "outbox.db";
const LOG: &str = "deliveries.log";

fn programme() -> ProgrammeId {
    ProgrammeId::new("ack-kill")
}

/// What a child does at its [`KILL_AT_ACK`]-th acknowledge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Announce it, wait for the parent to take the write lock, then write (and be killed).
    InWrite,
    /// Write, announce it, then wait inside `acknowledge` (and be killed).
    AfterWrite,
    /// Nothing: run to the end.
    Finish,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::InWrite => "in-write",
            Mode::AfterWrite => "after-write",
            Mode::Finish => "finish",
        }
    }
    fn parse(s: &str) -> Mode {
        match s {
            "in-write" => Mode::InWrite,
            "after-write" => Mode::AfterWrite,
            "finish" => Mode::Finish,
            other => panic!("unknown mode `{other}`"),
        }
    }
}

/// Writes `text` to `dir/name` atomically (write, then rename).
fn signal(dir: &Path, name: &str, text: &str) {
    let tmp = dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, text).expect("the marker is written");
    std::fs::rename(&tmp, dir.join(name)).expect("the marker is renamed");
}

/// The contents of `path` once it exists, or `None` after `limit`.
fn wait_for_file(path: &Path, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return Some(text);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The child's outbox: the real store, interrupted at one acknowledge.
struct Interrupting {
    inner: SqliteStore,
    mode: Mode,
    dir: PathBuf,
    acks: usize,
}

impl Outbox for Interrupting {
    fn claim(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        self.inner.claim(now, lease_until, limit)
    }

    fn acknowledge(&mut self, id: NoticeId) -> Result<(), StoreError> {
        self.acks += 1;
        if self.acks != KILL_AT_ACK {
            return self.inner.acknowledge(id);
        }
        match self.mode {
            Mode::Finish => self.inner.acknowledge(id),
            Mode::InWrite => {
                signal(&self.dir, "entering", &id.to_string());
                assert!(
                    wait_for_file(&self.dir.join("locked"), Duration::from_secs(30)).is_some(),
                    "the parent never took the write lock"
                );
                signal(&self.dir, "writing", &id.to_string());
                // Waits inside SQLite for the lock the parent holds; killed here.
                let result = self.inner.acknowledge(id);
                signal(&self.dir, "returned", &format!("{result:?}"));
                result
            }
            Mode::AfterWrite => {
                let result = self.inner.acknowledge(id);
                signal(&self.dir, "written", &format!("{id} {result:?}"));
                // Inside acknowledge, the write done, not yet returned: killed here.
                std::thread::sleep(Duration::from_secs(30));
                panic!("the child was not killed inside acknowledge");
            }
        }
    }

    fn retry_later(
        &mut self,
        id: NoticeId,
        next_attempt: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.inner.retry_later(id, next_attempt, error)
    }

    fn dead_letter(&mut self, id: NoticeId, error: &str) -> Result<(), StoreError> {
        self.inner.dead_letter(id, error)
    }

    fn dead_letters(&mut self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        self.inner.dead_letters(limit)
    }

    fn requeue(&mut self, id: NoticeId, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.inner.requeue(id, now)
    }
}

/// Appends one line per delivered notice id to a file (one write each).
struct FileNotifier {
    file: Mutex<File>,
}

impl Notifier for FileNotifier {
    fn deliver(&self, _programme: &ProgrammeId, notice: &Notice) -> Result<(), DeliveryError> {
        let mut file = self
            .file
            .lock()
            .map_err(|_| DeliveryError::Retryable("the log's lock is poisoned".into()))?;
        file.write_all(format!("{}\n", notice.id).as_bytes())
            .map_err(|e| DeliveryError::Retryable(format!("cannot write the log: {e}")))
    }
}

/// The child: drain the outbox in `root` until nothing is pending
/// (bounded), leaving its markers in `root/run`.
fn run_child(spec: &str) {
    let mut parts = spec.splitn(3, '|');
    let (Some(root), Some(run), Some(mode)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("ACK_KILL_CHILD is `<root>|<run>|<mode>`");
    };
    let root = PathBuf::from(root);
    let outbox = Interrupting {
        inner: SqliteStore::open(root.join(DB)).expect("the outbox opens"),
        mode: Mode::parse(mode),
        dir: root.join(run),
        acks: 0,
    };
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(root.join(LOG))
        .expect("the delivery log opens");
    let notifier = FileNotifier {
        file: Mutex::new(log),
    };
    let config = DispatchConfig {
        batch_size: 5,
        lease: Duration::from_secs(1),
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(200),
        ..DispatchConfig::default()
    };
    let mut dispatcher = Dispatcher::new(outbox, notifier, config).unwrap();
    for _ in 0..100 {
        dispatcher.drain().expect("the drain succeeds");
        let pending = dispatcher
            .outbox_mut()
            .inner
            .outbox_entries(&programme())
            .unwrap()
            .iter()
            .filter(|e| e.status == OutboxStatus::Pending)
            .count();
        if pending == 0 {
            return;
        }
        // Notices leased by a killed dispatcher come back when their lease runs out.
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("notices still pending after 100 drains");
}

/// Starts a dispatcher on the outbox in `root`, its markers in a new `root/run`.
fn spawn_child(root: &Path, run: &str, mode: Mode) -> Child {
    std::fs::create_dir(root.join(run)).expect("the run's directory is made");
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(
            CHILD_ENV,
            format!("{}|{run}|{}", root.display(), mode.name()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the child starts")
}

/// The contents of `dir/name` once written, killing `child` and failing after `limit`.
fn marker(child: &mut Child, dir: &Path, name: &str, limit: Duration) -> String {
    match wait_for_file(&dir.join(name), limit) {
        Some(text) => text,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("timed out waiting for the child's `{name}` marker");
        }
    }
}

/// Kills `child` with SIGKILL and checks that it died of it.
fn kill(mut child: Child) {
    child.kill().expect("SIGKILL is sent");
    let status = child.wait().unwrap();
    assert!(!status.success(), "the dispatcher was killed, not finished");
}

/// How many times each notice id was delivered so far.
fn deliveries(dir: &Path) -> HashMap<String, usize> {
    let text = std::fs::read_to_string(dir.join(LOG)).unwrap_or_default();
    let mut per_id = HashMap::new();
    for line in text.lines() {
        *per_id.entry(line.to_string()).or_default() += 1;
    }
    per_id
}

fn status_of(store: &mut SqliteStore, id: &str) -> OutboxStatus {
    store
        .outbox_entries(&programme())
        .unwrap()
        .iter()
        .find(|e| e.notice.id.to_string() == id)
        .unwrap_or_else(|| panic!("notice {id} is in the outbox"))
        .status
}

#[test]
fn a_dispatcher_killed_inside_acknowledge_loses_no_notice() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        run_child(&spec);
        return;
    }
    let began = Instant::now();
    let root = tempfile::tempdir().unwrap();
    let db = root.path().join(DB);
    let mut store = SqliteStore::open(&db).unwrap();
    let notices: Vec<Notice> = (0..NOTICES)
        .map(|i| {
            let mut data = BTreeMap::new();
            data.insert("programme".to_string(), "Ack kill test".to_string());
            data.insert("amount".to_string(), format!("{i}.00"));
            Notice {
                id: NoticeId::from_name(&format!("ack-kill-{i}")),
                template: "claim_paid".into(),
                recipient: Role::Finance,
                to: None,
                application: None,
                data,
            }
        })
        .collect();
    store.append(&programme(), 0, &[], &notices).unwrap();
    let expected: HashSet<String> = notices.iter().map(|n| n.id.to_string()).collect();

    // 1. Killed inside the store's write, while it waits for the lock.
    let run = root.path().join("run1");
    let in_write = {
        let mut child = spawn_child(root.path(), "run1", Mode::InWrite);
        let id = marker(&mut child, &run, "entering", Duration::from_secs(30));
        store
            .connection()
            .execute_batch("BEGIN IMMEDIATE")
            .expect("the test takes the write lock");
        signal(&run, "locked", "");
        marker(&mut child, &run, "writing", Duration::from_secs(10));
        // The child is now inside the UPDATE, waiting for the lock (up to its
        // 5 s busy timeout); it cannot get past it while the lock is held.
        std::thread::sleep(Duration::from_millis(300));
        kill(child);
        store
            .connection()
            .execute_batch("ROLLBACK")
            .expect("the test lets go of the lock");
        assert!(
            !run.join("returned").exists(),
            "the child's acknowledge returned before the kill: {:?}",
            std::fs::read_to_string(run.join("returned"))
        );
        assert_eq!(
            status_of(&mut store, &id),
            OutboxStatus::Pending,
            "the interrupted acknowledge wrote nothing"
        );
        assert_eq!(
            deliveries(root.path()).get(&id),
            Some(&1),
            "the notice whose acknowledge was interrupted had been delivered"
        );
        id
    };

    // 2. Killed inside acknowledge after the store's write, before it returned.
    let run = root.path().join("run2");
    let after_write = {
        let mut child = spawn_child(root.path(), "run2", Mode::AfterWrite);
        let text = marker(&mut child, &run, "written", Duration::from_secs(30));
        kill(child);
        let (id, result) = text.split_once(' ').unwrap();
        assert_eq!(result, "Ok(())", "the child's acknowledge succeeded");
        assert_eq!(
            status_of(&mut store, id),
            OutboxStatus::Delivered,
            "a committed acknowledge survives the kill"
        );
        id.to_string()
    };
    let so_far = deliveries(root.path());
    assert!(
        so_far.len() < NOTICES,
        "the kills came mid-drain ({} of {NOTICES} delivered)",
        so_far.len()
    );

    // 3. A restarted dispatcher runs to the end.
    let mut last = spawn_child(root.path(), "run3", Mode::Finish);
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(status) = last.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = last.kill();
            let _ = last.wait();
            panic!("the restarted dispatcher did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(exit.success(), "the restarted dispatcher finished cleanly");

    // The file: intact, every notice acknowledged.
    drop(store);
    let mut store = SqliteStore::open(&db).expect("the outbox reopens");
    let check: String = store
        .connection()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok", "SQLite's integrity check");
    let entries = store.outbox_entries(&programme()).unwrap();
    assert_eq!(entries.len(), NOTICES);
    let undelivered: Vec<_> = entries
        .iter()
        .filter(|e| e.status != OutboxStatus::Delivered)
        .collect();
    assert!(undelivered.is_empty(), "{undelivered:?}");

    // The deliveries: every notice at least once, none invented; the one
    // whose write was interrupted came again, the one whose write had
    // committed did not.
    let per_id = deliveries(root.path());
    assert_eq!(
        per_id.keys().cloned().collect::<HashSet<_>>(),
        expected,
        "no notice lost, none invented"
    );
    assert!(
        per_id[&in_write] >= 2,
        "the notice whose acknowledge was interrupted is delivered again ({} times)",
        per_id[&in_write]
    );
    assert_eq!(
        per_id[&after_write], 1,
        "the notice whose acknowledge had committed is not delivered again"
    );
    let total: usize = per_id.values().sum();
    eprintln!(
        "{total} deliveries of {NOTICES} notices after 2 kills inside acknowledge, in {:?}",
        began.elapsed()
    );
}
