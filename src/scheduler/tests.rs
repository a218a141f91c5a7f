//! Scheduler tests on a controllable clock: the agenda is told the time, so days, months
//! and DST changes pass in microseconds.

use super::*;
use chrono::{Datelike, Offset, TimeZone, Timelike};
use chrono_tz::Europe::Berlin;

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
}

fn schedule(suite: &str, expression: &str, splay_secs: u64) -> Schedule {
    Schedule::new(suite, expression, Berlin, Duration::from_secs(splay_secs)).unwrap()
}

fn record(job: &Job, started: DateTime<Utc>, finished: DateTime<Utc>) -> RunRecord {
    RunRecord {
        id: job.ticket,
        suite: job.suite.clone(),
        status: RunStatus::Success,
        quick: false,
        started_at: started,
        finished_at: Some(finished),
        host: "h".into(),
        agent_version: "test".into(),
        fingerprint: "f".into(),
        environment: None,
        benchmarks: Vec::new(),
        note: None,
        trigger: Some(job.trigger),
        gate: None,
        confirms: None,
    }
}

/// One executed job: what ran and when.
struct Execution {
    job: Job,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// Drives the agenda the way the daemon loop does, from `start` to `end`, each job taking
/// `duration(job)`.
fn simulate(
    agenda: &mut Agenda,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    duration: impl Fn(&Job) -> chrono::Duration,
) -> Vec<Execution> {
    let mut now = start;
    let mut running: Option<(Job, DateTime<Utc>, DateTime<Utc>)> = None;
    let mut done = Vec::new();
    loop {
        if let Some((job, began, ends)) = running.take() {
            if ends <= now {
                agenda.finish(job.ticket, Some(&record(&job, began, ends)));
                done.push(Execution {
                    job,
                    start: began,
                    end: ends,
                });
            } else {
                running = Some((job, began, ends));
            }
        }
        let (job, _) = agenda.poll(now);
        if let Some(job) = job {
            assert!(
                running.is_none(),
                "agenda started {job:?} while another job runs"
            );
            let ends = now + duration(&job);
            running = Some((job, now, ends));
        }
        let next = [agenda.next_wakeup(), running.as_ref().map(|r| r.2)]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(next) if next <= end => now = next.max(now),
            _ => break,
        }
    }
    done
}

/// An agenda for suites with no persisted state, started at `at`.
fn first_start(schedules: Vec<Schedule>, at: DateTime<Utc>) -> Agenda {
    Agenda::new(schedules, &BTreeMap::new(), CatchUp::Once, at).0
}

fn minutes(m: i64) -> impl Fn(&Job) -> chrono::Duration {
    move |_| chrono::Duration::minutes(m)
}

#[test]
fn daily_0300_berlin_fires_at_0300_local_on_both_sides_of_both_dst_changes() {
    for (from, to) in [
        // Spring forward on 2026-03-29 (02:00 → 03:00), fall back on 2026-10-25.
        (utc(2026, 3, 26, 0, 0), utc(2026, 4, 2, 0, 0)),
        (utc(2026, 10, 22, 0, 0), utc(2026, 10, 29, 0, 0)),
    ] {
        let (mut agenda, _) = Agenda::new(
            vec![schedule("daily", "0 3 * * *", 0)],
            &BTreeMap::new(),
            CatchUp::Once,
            from,
        );
        let runs = simulate(&mut agenda, from, to, minutes(5));
        assert_eq!(runs.len(), 7, "one run a day");
        let offsets: std::collections::BTreeSet<i32> = runs
            .iter()
            .map(|r| {
                let local = r.start.with_timezone(&Berlin);
                assert_eq!((local.hour(), local.minute()), (3, 0), "{local}");
                local.offset().fix().local_minus_utc()
            })
            .collect();
        // Both UTC offsets were crossed: +01:00 and +02:00.
        assert_eq!(offsets.len(), 2, "{offsets:?}");
    }
}

#[test]
fn a_slot_inside_the_spring_gap_runs_once_right_after_it() {
    // 02:30 does not exist in Berlin on 2026-03-29; the run happens at 03:00 local.
    let from = utc(2026, 3, 28, 12, 0);
    let mut agenda = first_start(vec![schedule("gap", "30 2 * * *", 0)], from);
    let runs = simulate(&mut agenda, from, utc(2026, 3, 30, 12, 0), minutes(1));
    let local: Vec<_> = runs
        .iter()
        .map(|r| r.start.with_timezone(&Berlin).naive_local())
        .collect();
    assert_eq!(local.len(), 2, "{local:?}");
    assert_eq!(local[0].to_string(), "2026-03-29 03:00:00");
    assert_eq!(local[1].to_string(), "2026-03-30 02:30:00");
}

#[test]
fn monthly_on_the_31st_runs_only_in_months_with_31_days() {
    let from = utc(2026, 12, 1, 0, 0);
    let mut agenda = first_start(vec![schedule("monthly", "0 4 31 * *", 0)], from);
    let runs = simulate(&mut agenda, from, utc(2027, 12, 1, 0, 0), minutes(30));
    let months: Vec<u32> = runs
        .iter()
        .map(|r| {
            let local = r.start.with_timezone(&Berlin);
            assert_eq!((local.day(), local.hour()), (31, 4), "{local}");
            local.month()
        })
        .collect();
    assert_eq!(months, vec![12, 1, 3, 5, 7, 8, 10]);
}

#[test]
fn catch_up_after_downtime_runs_exactly_once() {
    let weekly = || vec![schedule("weekly", "0 3 * * MON", 0)];
    // Last handled Monday 2026-11-02 03:00 local; the host was down for three weeks.
    let last = Berlin
        .with_ymd_and_hms(2026, 11, 2, 3, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let persisted = BTreeMap::from([(
        "weekly".to_string(),
        SuiteSchedule {
            last_slot: Some(last),
            ..SuiteSchedule::default()
        },
    )]);
    let boot = utc(2026, 11, 26, 9, 0); // a Thursday
    let (mut agenda, notices) = Agenda::new(weekly(), &persisted, CatchUp::Once, boot);
    let missed = Berlin
        .with_ymd_and_hms(2026, 11, 23, 3, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(
        notices,
        vec![Notice::CatchingUp {
            suite: "weekly".into(),
            missed
        }]
    );
    // Until the next Monday: the catch-up run only, once.
    let runs = simulate(&mut agenda, boot, utc(2026, 11, 30, 1, 0), minutes(10));
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].job.trigger, Trigger::CatchUp);
    assert_eq!(runs[0].start, boot);
    assert_eq!(runs[0].job.slot, Some(missed));

    // The handled slot is persisted: a restart right after does not catch up again.
    let states: BTreeMap<String, SuiteSchedule> = agenda.take_dirty().into_iter().collect();
    assert_eq!(states["weekly"].last_slot, Some(missed));
    assert_eq!(states["weekly"].last_status, Some(RunStatus::Success));
    let (mut restarted, notices) = Agenda::new(weekly(), &states, CatchUp::Once, boot);
    assert!(notices.is_empty(), "{notices:?}");
    assert_eq!(restarted.poll(boot).0, None);
    // And the regular schedule resumes the next Monday at 03:00 local.
    let next = restarted.next_wakeup().unwrap().with_timezone(&Berlin);
    assert_eq!(next.naive_local().to_string(), "2026-11-30 03:00:00");

    // `catch_up = "skip"` forgets the missed Mondays.
    let (mut skipping, notices) = Agenda::new(weekly(), &persisted, CatchUp::Skip, boot);
    assert!(matches!(notices[..], [Notice::SkippedMissed { .. }]));
    assert!(simulate(&mut skipping, boot, utc(2026, 11, 30, 1, 0), minutes(10)).is_empty());
}

#[test]
fn a_new_suite_is_armed_at_first_start_not_caught_up() {
    let boot = utc(2026, 11, 26, 9, 0);
    let (mut agenda, notices) = Agenda::new(
        vec![schedule("weekly", "0 3 * * MON", 0)],
        &BTreeMap::new(),
        CatchUp::Once,
        boot,
    );
    assert!(notices.is_empty());
    assert_eq!(agenda.poll(boot).0, None);
    assert_eq!(agenda.take_dirty()[0].1.last_slot, Some(boot));
}

#[test]
fn two_overdue_suites_never_overlap() {
    // Both missed while down, both 90-minute suites, plus their regular slots colliding.
    let persisted: BTreeMap<String, SuiteSchedule> = ["weekly", "monthly"]
        .iter()
        .map(|s| {
            (
                s.to_string(),
                SuiteSchedule {
                    last_slot: Some(utc(2026, 9, 1, 0, 0)),
                    ..SuiteSchedule::default()
                },
            )
        })
        .collect();
    let boot = utc(2026, 10, 31, 12, 0);
    let (mut agenda, notices) = Agenda::new(
        vec![
            schedule("weekly", "0 3 * * *", 0),
            schedule("monthly", "0 3 1 * *", 0),
        ],
        &persisted,
        CatchUp::Once,
        boot,
    );
    assert_eq!(notices.len(), 2);
    let runs = simulate(&mut agenda, boot, utc(2026, 11, 2, 12, 0), minutes(90));
    for pair in runs.windows(2) {
        assert!(
            pair[1].start >= pair[0].end,
            "{} started at {} before {} ended at {}",
            pair[1].job.suite,
            pair[1].start,
            pair[0].job.suite,
            pair[0].end
        );
    }
    let order: Vec<(&str, Trigger)> = runs
        .iter()
        .map(|r| (r.job.suite.as_str(), r.job.trigger))
        .collect();
    assert_eq!(
        order,
        vec![
            ("weekly", Trigger::CatchUp),
            ("monthly", Trigger::CatchUp),
            // 1 Nov 03:00: both due at once; run one after the other.
            ("monthly", Trigger::Scheduled),
            ("weekly", Trigger::Scheduled),
            ("weekly", Trigger::Scheduled),
        ]
    );
    assert_eq!(runs[3].start, runs[2].end);
}

#[test]
fn a_suite_waiting_behind_a_long_run_is_queued_once() {
    let from = utc(2026, 10, 31, 23, 30);
    let (mut agenda, _) = Agenda::new(
        vec![
            schedule("long", "0 1 * * *", 0),
            schedule("hourly", "0 * * * *", 0),
        ],
        &BTreeMap::new(),
        CatchUp::Once,
        from,
    );
    // Both due at 01:00 local (00:00 UTC); "long" then takes 5 hours, during which
    // "hourly" comes due five more times: it waits once and runs once after "long".
    let runs = simulate(&mut agenda, from, utc(2026, 11, 1, 5, 30), |job| {
        if job.suite == "long" {
            chrono::Duration::hours(5)
        } else {
            chrono::Duration::minutes(1)
        }
    });
    let order: Vec<&str> = runs.iter().map(|r| r.job.suite.as_str()).collect();
    assert_eq!(order, vec!["hourly", "long", "hourly"]);
    assert_eq!(runs[2].start, runs[1].end);
    assert_eq!(
        runs[2].job.slot,
        Some(utc(2026, 11, 1, 5, 0)),
        "the latest slot"
    );
}

#[test]
fn splay_delays_every_slot_by_the_hosts_offset() {
    let splay = super::splay::splay_for("host-a", Duration::from_secs(30 * 60));
    let from = utc(2026, 11, 26, 0, 0);
    let mut agenda = first_start(vec![schedule("daily", "0 3 * * *", splay.as_secs())], from);
    let runs = simulate(&mut agenda, from, utc(2026, 11, 29, 0, 0), minutes(1));
    assert_eq!(runs.len(), 3);
    for run in &runs {
        let slot = run.job.slot.unwrap();
        assert_eq!(slot.with_timezone(&Berlin).hour(), 3);
        assert_eq!(
            run.start - slot,
            chrono::Duration::seconds(splay.as_secs() as i64)
        );
    }
}

#[test]
fn manual_runs_queue_behind_the_running_one() {
    let from = utc(2026, 11, 26, 0, 0);
    let mut agenda = first_start(vec![schedule("daily", "0 3 * * *", 0)], from);
    let (first, ahead) = agenda.enqueue_manual("daily", vec![], true, false, from);
    assert_eq!(ahead, 0);
    let (job, _) = agenda.poll(from);
    assert_eq!(job.as_ref().map(|j| j.ticket), Some(first));
    let (second, ahead) = agenda.enqueue_manual("daily", vec!["x".into()], false, false, from);
    assert_eq!(ahead, 1);
    assert_eq!(agenda.position(second), Some(1));
    assert_eq!(agenda.poll(from).0, None, "one at a time");
    agenda.finish(first, None);
    let (job, _) = agenda.poll(from);
    assert_eq!(job.unwrap().benches, vec!["x".to_string()]);
    assert_eq!(agenda.position(second), Some(0));
}

#[test]
fn reload_keeps_state_and_pending_slots() {
    let from = utc(2026, 11, 26, 0, 0);
    let mut agenda = first_start(vec![schedule("daily", "0 3 * * *", 0)], from);
    let before = agenda.next_wakeup();
    agenda.reschedule(
        vec![
            schedule("daily", "0 3 * * *", 0),
            schedule("new", "0 5 * * *", 0),
        ],
        from + chrono::Duration::hours(1),
    );
    assert_eq!(agenda.next_wakeup(), before);
    assert_eq!(agenda.suites().count(), 2);
    agenda.reschedule(vec![schedule("daily", "0 6 * * *", 0)], from);
    let next = agenda.next_wakeup().unwrap().with_timezone(&Berlin);
    assert_eq!(next.hour(), 6);
}

#[test]
fn a_confirmation_run_waits_for_its_time_then_queues_like_any_run() {
    // 03:00 in Berlin is 02:00 UTC in November.
    let from = utc(2026, 11, 26, 1, 50);
    let mut agenda = first_start(vec![schedule("daily", "0 3 * * *", 0)], from);
    let due = from + chrono::Duration::minutes(10);
    let ticket = agenda.schedule_confirmation("daily", vec!["cpu".into()], 41, 1, due, from);
    assert_eq!(
        agenda.next_wakeup(),
        Some(due),
        "wakes for the confirmation"
    );
    assert_eq!(agenda.pending_confirmations().count(), 1);
    assert_eq!(agenda.poll(from).0, None, "not due yet");
    // At 03:00 the daily suite comes due first and runs; the confirmation, due at 03:00
    // too, queues behind it.
    let (job, _) = agenda.poll(due);
    let job = job.unwrap();
    assert_eq!(job.trigger, Trigger::Scheduled);
    assert_eq!(agenda.position(ticket), Some(1));
    assert_eq!(agenda.poll(due).0, None, "never overlapping");
    agenda.finish(job.ticket, None);
    let (job, _) = agenda.poll(due);
    let job = job.unwrap();
    assert_eq!(job.ticket, ticket);
    assert_eq!(job.trigger, Trigger::Confirmation);
    assert_eq!(job.confirms, Some(41));
    assert_eq!(job.attempt, 1);
    assert_eq!(job.benches, vec!["cpu".to_string()]);
    assert_eq!(agenda.pending_confirmations().count(), 0);
}

#[test]
fn a_suite_waiting_for_a_quiet_host_steps_aside_for_manual_runs_then_resumes() {
    let from = utc(2026, 11, 26, 1, 0);
    let mut agenda = first_start(
        vec![
            schedule("daily", "0 3 * * *", 0),
            schedule("other", "0 3 * * *", 0),
        ],
        from,
    );
    let at = utc(2026, 11, 26, 2, 0);
    let (waiting, _) = agenda.poll(at);
    let waiting = waiting.unwrap();
    assert_eq!(waiting.suite, "daily");
    assert!(!agenda.manual_waiting());
    let (manual, ahead) = agenda.enqueue_manual("daily", vec![], false, false, at);
    assert_eq!(ahead, 2, "the waiting suite and the other scheduled one");
    assert!(agenda.manual_waiting());

    let since = at + chrono::Duration::seconds(5);
    agenda.step_aside(waiting.ticket, since, 3);
    let (job, _) = agenda.poll(at);
    let job = job.unwrap();
    assert_eq!(job.ticket, manual, "the manual run goes first");
    assert_eq!(agenda.position(waiting.ticket), Some(1));
    agenda.finish(manual, None);
    let (job, _) = agenda.poll(at);
    let job = job.unwrap();
    assert_eq!(
        job.ticket, waiting.ticket,
        "then the suite resumes its wait"
    );
    assert_eq!(job.waiting_since, Some(since));
    assert_eq!(job.gate_checks, 3);
    agenda.finish(job.ticket, None);
    assert_eq!(agenda.poll(at).0.unwrap().suite, "other");
}

#[test]
fn suites_due_while_one_runs_are_queued_and_their_next_time_moves_on() {
    let from = utc(2026, 11, 26, 0, 0);
    let mut agenda = first_start(
        vec![
            schedule("long", "0 3 * * *", 0),
            schedule("hourly", "0 * * * *", 0),
        ],
        from,
    );
    let (job, _) = agenda.poll(utc(2026, 11, 26, 1, 0));
    assert_eq!(job.unwrap().suite, "hourly");
    // Polled while it runs, at 02:30: hourly is queued once and its next time is 03:00 local
    // (02:00 UTC) — never a time in the past.
    let now = utc(2026, 11, 26, 2, 30);
    assert_eq!(agenda.poll(now).0, None, "one at a time");
    for (_, state) in agenda.suites() {
        assert!(state.next_due.unwrap() > now, "{state:?}");
    }
    assert!(agenda.next_wakeup().unwrap() > now);
    assert_eq!(agenda.queued().count(), 2);
}

#[test]
fn a_deferred_confirmation_waits_again_until_its_new_time() {
    let from = utc(2026, 11, 26, 1, 0);
    let mut agenda = first_start(vec![schedule("daily", "0 3 * * *", 0)], from);
    let ticket = agenda.schedule_confirmation("daily", vec!["http".into()], 7, 1, from, from);
    let job = agenda.poll(from).0.unwrap();
    assert_eq!(job.ticket, ticket);
    let later = from + chrono::Duration::minutes(30);
    agenda.defer(ticket, later);
    assert_eq!(agenda.poll(from).0, None);
    assert_eq!(
        agenda.pending_confirmations().next().map(|(due, _)| *due),
        Some(later)
    );
    let job = agenda.poll(later).0.unwrap();
    assert_eq!(
        (job.ticket, job.attempt, job.confirms),
        (ticket, 1, Some(7))
    );
}
