//! [`SmtpSink`]: a real SMTP server for tests, aiosmtpd on 127.0.0.1 with
//! a handler that writes every accepted message to a folder the test reads.
//!
//! Needs `python3 -m aiosmtpd` (`pip install aiosmtpd`). Without it
//! [`SmtpSink::start`] panics when the `CI` variable is set, and returns
//! `None` with a message on standard error otherwise (the test skips).
//! Recipients at `reject.example` are refused permanently (550) and at
//! `busy.example` transiently (451).

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The aiosmtpd handler, written beside the messages' folder.
const HANDLER: &str = include_str!("smtp_sink.py");

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A running aiosmtpd, stopped and cleaned up when dropped.
#[derive(Debug)]
pub struct SmtpSink {
    child: Child,
    port: u16,
    dir: PathBuf,
    messages: PathBuf,
}

impl SmtpSink {
    /// Starts aiosmtpd on a free loopback port, or returns `None` (skip)
    /// when it is not installed outside CI.
    pub fn start() -> Option<SmtpSink> {
        let importable = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !importable {
            assert!(
                std::env::var_os("CI").is_none(),
                "aiosmtpd is not importable by python3, and CI is set: install it with `pip install aiosmtpd`"
            );
            // Written to the process's stderr directly, so the test harness does not hide it.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"SKIPPED: aiosmtpd is not importable by python3 (pip install aiosmtpd); the SMTP tests did not run (under CI this fails)\n",
            );
            return None;
        }
        let dir = std::env::temp_dir().join(format!(
            "grantflow-smtp-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let messages = dir.join("messages");
        std::fs::create_dir_all(&messages).expect("a folder for the messages");
        std::fs::write(dir.join("smtp_sink.py"), HANDLER).expect("the handler is written");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let mut child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "smtp_sink.Sink",
            ])
            .arg(&messages)
            .env("PYTHONPATH", &dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 starts");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("aiosmtpd exited with {status}: {err}");
            }
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen on port {port} within 15 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(SmtpSink {
            child,
            port,
            dir,
            messages,
        })
    }

    /// The loopback port it listens on (host `127.0.0.1`, no TLS).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The messages received so far, in order: each with `mail_from`,
    /// `rcpt_tos`, `from`, `to`, `subject`, `message_id`, `notice_id`,
    /// `content_type` and the decoded `body`.
    pub fn messages(&self) -> Vec<Value> {
        let mut files: Vec<_> = std::fs::read_dir(&self.messages)
            .expect("the messages' folder")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .map(|text| serde_json::from_str(&text).expect("a message record is JSON"))
            .collect()
    }

    /// Waits (at most 10 s) until `n` messages have arrived, and returns
    /// what has arrived by then.
    pub fn wait_for(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let m = self.messages();
            if m.len() >= n || Instant::now() > deadline {
                return m;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
