//! The schedule as whole vectors: every delay of a backoff, and the complete
//! life of a message that is deferred every time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * MINUTE)
}

fn default_schedule() -> RetrySchedule {
    RetrySchedule {
        min: minutes(5),
        max: minutes(60),
    }
}

fn received_at() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// One failed attempt: minutes since arrival, the decision, and whether the
/// delay warning became due at that moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Step {
    at_minute: u64,
    decision: Decision,
    warn: bool,
}

/// `AfterFailure` with the retry time as minutes since arrival, for readable vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    RetryAt(u64),
    GiveUp,
}

fn step(at_minute: u64, decision: Decision, warn: bool) -> Step {
    Step {
        at_minute,
        decision,
        warn,
    }
}

fn minutes_since_arrival(time: SystemTime) -> u64 {
    let elapsed = time.duration_since(received_at()).unwrap_or_default();
    assert_eq!(
        elapsed.as_secs() % MINUTE,
        0,
        "not on a minute: {elapsed:?}"
    );
    elapsed.as_secs() / MINUTE
}

/// Plays a message that fails temporarily at every attempt, the first one on
/// arrival, each next one exactly when the schedule says.
fn timeline(schedule: &RetrySchedule, lifetime: &Lifetime) -> Vec<Step> {
    let mut steps = Vec::new();
    let (mut now, mut attempts, mut notified) = (received_at(), 1, false);
    while steps.len() < 10_000 {
        let decision = after_temporary_failure(schedule, lifetime, received_at(), now, attempts);
        let warn = delay_warning_due(lifetime, received_at(), now, notified);
        notified |= warn;
        let at_minute = minutes_since_arrival(now);
        match decision {
            AfterFailure::RetryAt(next) => {
                steps.push(step(
                    at_minute,
                    Decision::RetryAt(minutes_since_arrival(next)),
                    warn,
                ));
                (now, attempts) = (next, attempts + 1);
            }
            AfterFailure::GiveUp => {
                steps.push(step(at_minute, Decision::GiveUp, warn));
                return steps;
            }
        }
    }
    panic!("no GiveUp after {} attempts", steps.len());
}

#[test]
fn delays_double_from_min_and_stop_at_max() {
    let delays: Vec<Duration> = (1..=12)
        .map(|n| default_schedule().delay_after(n))
        .collect();
    let expected: Vec<Duration> = [5, 10, 20, 40, 60, 60, 60, 60, 60, 60, 60, 60]
        .into_iter()
        .map(minutes)
        .collect();
    assert_eq!(delays, expected);
}

#[test]
fn delays_with_a_max_that_is_not_a_doubling_of_min() {
    let schedule = RetrySchedule {
        min: Duration::from_secs(30),
        max: minutes(7),
    };
    let delays: Vec<u64> = (0..=7).map(|n| schedule.delay_after(n).as_secs()).collect();
    assert_eq!(delays, [30, 30, 60, 120, 240, 420, 420, 420]);
}

#[test]
fn delay_never_overflows() {
    let attempts = [30, 31, 32, 33, 64, 65, 1000, u32::MAX - 1, u32::MAX];
    let one_second_to_forever = RetrySchedule {
        min: Duration::from_secs(1),
        max: Duration::MAX,
    };
    let delays: Vec<Duration> = attempts
        .iter()
        .map(|&n| one_second_to_forever.delay_after(n))
        .collect();
    let mut expected: Vec<Duration> = [29, 30, 31, 32, 63]
        .into_iter()
        .map(|power| Duration::from_secs(1 << power))
        .collect();
    expected.extend([Duration::MAX; 4]);
    assert_eq!(delays, expected);

    for schedule in [
        default_schedule(),
        RetrySchedule {
            min: Duration::MAX,
            max: Duration::MAX,
        },
    ] {
        let delays: Vec<Duration> = attempts.iter().map(|&n| schedule.delay_after(n)).collect();
        assert_eq!(delays, vec![schedule.max; attempts.len()], "{schedule:?}");
    }
}

#[test]
fn a_short_life_deferred_every_time() {
    let lifetime = Lifetime {
        warn_after: Duration::from_secs(HOUR),
        give_up_after: Duration::from_secs(6 * HOUR),
    };
    use Decision::{GiveUp, RetryAt};
    let expected = vec![
        step(0, RetryAt(5), false),
        step(5, RetryAt(15), false),
        step(15, RetryAt(35), false),
        step(35, RetryAt(75), false),
        step(75, RetryAt(135), true),
        step(135, RetryAt(195), false),
        step(195, RetryAt(255), false),
        step(255, RetryAt(315), false),
        // 315 + 60 = 375 is past the 360-minute deadline: one last try at 360.
        step(315, RetryAt(360), false),
        step(360, GiveUp, false),
    ];
    assert_eq!(timeline(&default_schedule(), &lifetime), expected);
}

#[test]
fn the_default_life_deferred_every_time_warns_once_and_gives_up_at_five_days() {
    let lifetime = Lifetime {
        warn_after: Duration::from_secs(4 * HOUR),
        give_up_after: Duration::from_secs(5 * DAY),
    };
    use Decision::{GiveUp, RetryAt};
    // Backoff 5, 10, 20, 40 minutes, then hourly from minute 75; the first
    // failure at or after 4 h (240 min) is at 255 min; the deadline is 7200 min.
    let mut expected = vec![
        step(0, RetryAt(5), false),
        step(5, RetryAt(15), false),
        step(15, RetryAt(35), false),
        step(35, RetryAt(75), false),
    ];
    let hourly = (75..7200).step_by(60);
    expected.extend(hourly.map(|at| {
        let next = if at + 60 > 7200 { 7200 } else { at + 60 };
        step(at, RetryAt(next), at == 255)
    }));
    expected.push(step(7200, GiveUp, false));
    let actual = timeline(&default_schedule(), &lifetime);
    assert_eq!(actual, expected);
    assert_eq!(actual.len(), 4 + 119 + 1);
    assert_eq!(actual[actual.len() - 2], step(7155, RetryAt(7200), false));
}

#[test]
fn give_up_exactly_at_and_after_the_deadline_and_retry_just_before() {
    let lifetime = Lifetime {
        warn_after: Duration::from_secs(HOUR),
        give_up_after: Duration::from_secs(DAY),
    };
    let deadline = received_at() + Duration::from_secs(DAY);
    let cases = [
        (
            deadline - Duration::from_secs(1),
            AfterFailure::RetryAt(deadline),
        ),
        (deadline, AfterFailure::GiveUp),
        (deadline + Duration::from_secs(1), AfterFailure::GiveUp),
    ];
    let decisions: Vec<(SystemTime, AfterFailure)> = cases
        .iter()
        .map(|&(now, _)| {
            let decision =
                after_temporary_failure(&default_schedule(), &lifetime, received_at(), now, 3);
            (now, decision)
        })
        .collect();
    assert_eq!(decisions, cases);
}

#[test]
fn delay_warning_window() {
    let lifetime = Lifetime {
        warn_after: Duration::from_secs(4 * HOUR),
        give_up_after: Duration::from_secs(5 * DAY),
    };
    let at = |seconds: u64| received_at() + Duration::from_secs(seconds);
    let cases = [
        (at(0), false, false),
        (at(4 * HOUR - 1), false, false),
        (at(4 * HOUR), false, true),
        (at(4 * HOUR), true, false),
        (at(3 * DAY), false, true),
        (at(3 * DAY), true, false),
        (at(5 * DAY - 1), false, true),
        (at(5 * DAY), false, false),
        (at(6 * DAY), false, false),
    ];
    let actual: Vec<(SystemTime, bool, bool)> = cases
        .iter()
        .map(|&(now, notified, _)| {
            (
                now,
                notified,
                delay_warning_due(&lifetime, received_at(), now, notified),
            )
        })
        .collect();
    assert_eq!(actual, cases);
}

#[test]
fn no_delay_warning_when_warn_after_is_not_before_give_up() {
    let now = received_at() + Duration::from_secs(2 * DAY);
    let warnings: Vec<bool> = [DAY, 2 * DAY, 3 * DAY]
        .into_iter()
        .map(|warn_after| {
            let lifetime = Lifetime {
                warn_after: Duration::from_secs(warn_after),
                give_up_after: Duration::from_secs(2 * DAY),
            };
            delay_warning_due(
                &lifetime,
                received_at(),
                received_at() + Duration::from_secs(DAY),
                false,
            ) || delay_warning_due(&lifetime, received_at(), now, false)
        })
        .collect();
    assert_eq!(warnings, [true, false, false]);
}

#[test]
fn a_deadline_beyond_system_time_never_gives_up() {
    let lifetime = Lifetime {
        warn_after: Duration::from_secs(HOUR),
        give_up_after: Duration::MAX,
    };
    let now = received_at() + Duration::from_secs(1000 * DAY);
    assert_eq!(lifetime.deadline(received_at()), None);
    assert_eq!(
        after_temporary_failure(&default_schedule(), &lifetime, received_at(), now, 9),
        AfterFailure::RetryAt(now + minutes(60))
    );
    assert!(delay_warning_due(&lifetime, received_at(), now, false));
}

#[test]
fn from_config_takes_the_queue_keys() {
    let config = posthorn_config::Config::embedded_default();
    let schedule = RetrySchedule::from_config(&config.queue);
    let lifetime = Lifetime::from_config(&config.queue);
    assert_eq!(
        (schedule, lifetime),
        (
            RetrySchedule {
                min: minutes(5),
                max: minutes(60)
            },
            Lifetime {
                warn_after: Duration::from_secs(4 * HOUR),
                give_up_after: Duration::from_secs(5 * DAY)
            }
        )
    );
}
