//! The strategies' weights: an embedder's weights change what is drawn.

use grantflow_core::Programme;
use grantflow_testkit::strategies::{Step, Weights, steps, steps_weighted};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;

/// How many of the steps drawn over `rounds` sequences `count` picks out.
fn drawn(
    strategy: impl Strategy<Value = Vec<Step>>,
    rounds: usize,
    count: impl Fn(&Step) -> bool,
) -> usize {
    let mut runner = TestRunner::deterministic();
    (0..rounds)
        .map(|_| {
            let steps = strategy
                .new_tree(&mut runner)
                .expect("a sequence")
                .current();
            steps.iter().filter(|s| count(s)).count()
        })
        .sum()
}

fn clawback(step: &Step) -> bool {
    matches!(step, Step::Clawback { .. })
}

/// Given the default weights and weights with clawbacks at 0 and at 40,
/// when 200 sequences are drawn with each, then the default draws some
/// clawbacks, 0 draws none, and 40 draws several times as many.
#[test]
fn a_weight_sets_how_often_a_step_is_drawn() {
    let p = Programme::healthcare_cyber_essentials_2020();
    let by_default = drawn(steps(&p, 6, 40), 200, clawback);
    let none = Weights {
        clawback: 0,
        ..Weights::default()
    };
    let many = Weights {
        clawback: 40,
        ..Weights::default()
    };
    assert!(by_default > 0, "the default weights draw clawbacks");
    assert_eq!(drawn(steps_weighted(&p, 6, 40, &none), 200, clawback), 0);
    let more = drawn(steps_weighted(&p, 6, 40, &many), 200, clawback);
    assert!(
        more > 3 * by_default,
        "weight 40 drew {more} clawbacks, the default {by_default}"
    );
}

/// Given weights that leave nothing to draw, when sequences are drawn,
/// then the defaults are used instead of panicking or drawing nothing but
/// the opening submissions.
#[test]
fn weights_that_draw_nothing_fall_back_to_the_defaults() {
    let p = Programme::healthcare_cyber_essentials_2020();
    let nothing = Weights {
        single: 0,
        late: 0,
        journey: 0,
        ..Weights::default()
    };
    let after_opening = drawn(steps_weighted(&p, 3, 20, &nothing), 50, |s| {
        !matches!(s, Step::Submit { .. })
    });
    assert!(after_opening > 0);
}
