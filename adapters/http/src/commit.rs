//! [`Committer`]: server-side group commit. Commands from every request
//! queue (at most [`QUEUE`]) for one thread, which takes whatever has
//! gathered while the last commit was being written, up to the group size,
//! and hands each programme's share to the engine's group commit: one
//! transaction, one wait for the disk, each command still decided in order
//! against the state the ones before it left. Nothing waits on a timer: a
//! lone command is written at once.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use grantflow_core::{Command, Outcome, ProgrammeId};
use tokio::sync::oneshot;

use crate::engines::Programmes;
use crate::problem::Problem;

/// Commands waiting to be committed, at most; beyond it a command is 503.
pub const QUEUE: usize = 4096;
/// Commands in one group commit, at most, unless the server is told otherwise.
pub const GROUP: usize = 256;

struct Pending {
    programme: ProgrammeId,
    command: Command,
    now: DateTime<Utc>,
    reply: oneshot::Sender<Result<Outcome, Problem>>,
}

/// The queue to the committing thread; the thread ends when the last
/// handle to the queue is dropped.
#[derive(Clone, Debug)]
pub(crate) struct Committer {
    queue: SyncSender<Pending>,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("programme", &self.programme)
            .finish_non_exhaustive()
    }
}

fn defect(detail: &str) -> Problem {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "committer",
        format!("{detail}: restart the server, and report it as a defect"),
    )
}

impl Committer {
    /// Starts the committing thread over `programmes`, committing at most
    /// `group` commands at once (1: each command alone). Should the thread
    /// not start, every command is answered 500, saying so.
    pub(crate) fn start(programmes: Arc<Mutex<Box<dyn Programmes>>>, group: usize) -> Committer {
        let (queue, taken) = sync_channel(QUEUE);
        let group = group.clamp(1, GROUP * 16);
        let _ = std::thread::Builder::new()
            .name("grantflow-commit".into())
            .spawn(move || commit(&taken, &programmes, group));
        Committer { queue }
    }

    /// Queues `command` and waits for its outcome.
    pub(crate) async fn execute(
        &self,
        programme: ProgrammeId,
        command: Command,
        now: DateTime<Utc>,
    ) -> Result<Outcome, Problem> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            programme,
            command,
            now,
            reply,
        };
        match self.queue.try_send(pending) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                let mut p = Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    format!(
                        "{QUEUE} commands are already waiting to be written; nothing was recorded: try again in a second"
                    ),
                );
                p.retry_after = Some(1);
                return Err(p);
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(defect("the committing thread has stopped"));
            }
        }
        answer
            .await
            .unwrap_or_else(|_| Err(defect("the committing thread dropped a command")))
    }
}

/// The committing thread: takes what has gathered, commits it by
/// programme, answers each command.
fn commit(taken: &Receiver<Pending>, programmes: &Mutex<Box<dyn Programmes>>, group: usize) {
    while let Ok(first) = taken.recv() {
        let mut gathered = vec![first];
        while gathered.len() < group {
            match taken.try_recv() {
                Ok(p) => gathered.push(p),
                Err(_) => break,
            }
        }
        // Each programme's commands in the order they came.
        let mut by_programme: Vec<(ProgrammeId, Vec<Pending>)> = Vec::new();
        for p in gathered {
            match by_programme.iter_mut().find(|(id, _)| *id == p.programme) {
                Some((_, list)) => list.push(p),
                None => by_programme.push((p.programme.clone(), vec![p])),
            }
        }
        let Ok(mut engines) = programmes.lock() else {
            for (_, list) in by_programme {
                for p in list {
                    let _ = p
                        .reply
                        .send(Err(defect("an earlier request failed inside the engines")));
                }
            }
            continue;
        };
        for (programme, list) in by_programme {
            let commands: Vec<(Command, DateTime<Utc>)> =
                list.iter().map(|p| (p.command.clone(), p.now)).collect();
            match engines.execute_batch(&programme, &commands) {
                Ok(outcomes) => {
                    for (p, outcome) in list.into_iter().zip(outcomes) {
                        let _ = p.reply.send(outcome.map_err(|r| Problem::rejected(&r)));
                    }
                }
                Err(e) => {
                    let problem = Problem::from(e);
                    for p in list {
                        let _ = p.reply.send(Err(problem.clone()));
                    }
                }
            }
        }
    }
}
