//! Shared by the CLI's tests: the built `grantflow` binary run in a
//! directory, and what it printed.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A small seeded simulation: two trials of 60 applicants.
pub const SMALL_SIMULATION: [&str; 7] = [
    "simulate",
    "--trials",
    "2",
    "--applicants",
    "60",
    "--seed",
    "3",
];

/// What one run printed, and its exit code.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Standard output as JSON; panics with both streams when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs `grantflow` with `args` in `dir`, without a `GRANTFLOW_DB` from
/// the environment.
pub fn gf(dir: &Path, args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_grantflow"))
        .args(args)
        .current_dir(dir)
        .env_remove("GRANTFLOW_DB")
        .output()
        .expect("run grantflow");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// Writes a fixture file into `dir`.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write fixture");
    p
}
