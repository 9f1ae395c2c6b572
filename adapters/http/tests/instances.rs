//! Several servers on one PostgreSQL database: two `Server`s, each with
//! its own connections, take submissions and acceptances at once for one
//! small pot; the pot is never overspent and every answered command is in
//! the stream once.

mod common;

use std::collections::BTreeSet;

use grantflow_core::{EventStore, ProgrammeId, State, evolve};
use grantflow_http::Engines;
use grantflow_postgres::{PgOptions, PostgresStore};
use grantflow_testkit::fixtures;

use common::{Running, start, submission};

fn server(url: &str, options: &PgOptions) -> Running {
    let (url, options) = (url.to_string(), options.clone());
    start(Box::new(Engines::new(move || {
        PostgresStore::connect_with(&url, options.clone())
    })))
}

/// Given two servers on one PostgreSQL schema and a pot of five awards,
/// when twelve applicants submit and accept through either server at once,
/// then every request is answered 200 or a domain refusal, the stream has
/// no gap, the pot is never overspent at any version, and both servers'
/// acknowledged commands are all in the stream.
#[test]
fn two_servers_on_one_database_never_overspend_the_pot() {
    let Some((url, options)) =
        common::postgres("two_servers_on_one_database_never_overspend_the_pot")
    else {
        return;
    };
    let acknowledged: Vec<String> = {
        let a = server(&url, &options);
        let b = server(&url, &options);
        a.open("p", fixtures::programme(6_000));
        std::thread::scope(|s| {
            let runs: Vec<_> = (0..12u64)
                .map(|n| {
                    let via = if n % 2 == 0 { &a } else { &b };
                    s.spawn(move || {
                        let mut ok = Vec::new();
                        let key = format!("submit-{n}");
                        let r = via.send(
                            "POST",
                            "/programmes/p/applications",
                            "secret-admin",
                            Some(&key),
                            Some(&submission(&format!("APP-{n}"), n + 10)),
                        );
                        assert_eq!(r.status, 200, "submit {n}: {}", r.text);
                        ok.push(key);
                        let key = format!("accept-{n}");
                        let r = via.send(
                            "POST",
                            &format!("/programmes/p/applications/APP-{n}/accept"),
                            "secret-admin",
                            Some(&key),
                            None,
                        );
                        // Waitlisted applications cannot accept: a refusal, not a failure.
                        assert!(r.status == 200 || r.status == 422, "accept {n}: {}", r.text);
                        if r.status == 200 {
                            ok.push(key);
                        }
                        ok
                    })
                })
                .collect();
            runs.into_iter()
                .flat_map(|h| h.join().expect("a client thread"))
                .collect()
        })
    };
    let mut store = PostgresStore::connect_with(&url, options.clone()).expect("connect");
    let events = store
        .load(&ProgrammeId::new("p"), 0, usize::MAX)
        .expect("the stream");
    let mut state = State::default();
    let mut commands = BTreeSet::new();
    for (i, r) in events.iter().enumerate() {
        assert_eq!(r.version, i as u64 + 1, "no gap, no duplicate version");
        evolve(&mut state, &r.event).expect("the stream replays");
        state
            .check_invariants()
            .expect("balanced and within the pot");
        commands.insert(r.event.command);
    }
    for key in &acknowledged {
        let id = grantflow_core::CommandId::given(key).expect("a key");
        assert!(
            commands.contains(&id),
            "{key} was answered 200 but is not in the stream"
        );
    }
    assert_eq!(state.applications().len(), 12);
    let awarded = state.pot().reserved().pence() + state.pot().paid().pence();
    assert!(awarded <= 600_000, "within the pot of £6,000: {awarded}");
    assert!(awarded > 0, "some awards stand");
    common::drop_schema(&mut store, &options);
}
