//! Shared by the PostgreSQL tests: the server's URL (or a clear skip), and
//! throw-away schemas so that every test starts from an empty store.
#![allow(dead_code)]

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use grantflow_postgres::{PgOptions, PostgresStore};

/// The URL of the test server: `GRANTFLOW_PG_URL`, or the local default.
pub fn url() -> String {
    std::env::var("GRANTFLOW_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// The server's URL when it answers. When it does not: under CI (`CI` set)
/// the test fails; elsewhere it says clearly that it is skipped, and why.
pub fn server(test: &str) -> Option<String> {
    let url = url();
    match postgres::Client::connect(&url, postgres::NoTls) {
        Ok(_) => Some(url),
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "{test}: PostgreSQL at GRANTFLOW_PG_URL is unreachable ({e}); CI must provide it"
                );
            }
            // Written to the process's stderr directly, so the test harness does not hide it.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: PostgreSQL is unreachable ({e}). Start it or set GRANTFLOW_PG_URL to run the PostgreSQL tests (under CI this fails)."
            );
            None
        }
    }
}

/// A schema of its own for one test, dropped (with everything in it) at the end.
#[derive(Debug)]
pub struct Schema {
    pub url: String,
    pub name: String,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

impl Schema {
    pub fn new(url: &str, purpose: &str) -> Schema {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "gf_test_{purpose}_{}_{n}_{:08x}",
            std::process::id(),
            fastrand::u32(..)
        );
        Schema {
            url: url.to_string(),
            name,
        }
    }

    pub fn options(&self) -> PgOptions {
        PgOptions {
            schema: Some(self.name.clone()),
            ..PgOptions::default()
        }
    }

    pub fn store(&self) -> PostgresStore {
        PostgresStore::connect_with(&self.url, self.options())
            .unwrap_or_else(|e| panic!("connect to schema {}: {e}", self.name))
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name));
        }
    }
}
