//! When suites run: cron schedules in a named time zone, a per-host splay, catch-up after
//! downtime and a single run queue so that two suites never overlap.
//!
//! Why not tokio-cron-scheduler (the named scheduler): it fires jobs on its own tasks, so
//! "never two suites at once" and "a due suite waits for the running one" would need a lock
//! around every job; it keeps no record of missed fire times, so catch-up after downtime is
//! not expressible; and its persistence is to PostgreSQL or NATS, not to our redb file.
//! What is left of it is cron parsing and time-zone arithmetic, which `croner` (already
//! used to validate schedules) does across DST changes. So the scheduler is this module: a
//! pure [`Agenda`] that is told the time, which the tests drive with a controllable clock,
//! and a small loop in `daemon/` that sleeps until the agenda's next wake-up.
//!
//! Semantics:
//! - A suite is *due* at each cron time ("slot") plus the host's splay.
//! - A slot is *handled* when its run starts (or is deliberately skipped); the last handled
//!   slot is persisted per suite. At start, slots after it whose due time has passed were
//!   missed: with `catch_up = "once"` the suite runs once (for the latest missed slot), with
//!   `"skip"` they are forgotten.
//! - One run at a time: due suites wait in a FIFO queue. A suite already waiting is not
//!   queued twice (a long monthly run does not make the weekly one run twice after it).

pub(crate) mod quiet;
pub(crate) mod splay;

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::config::{CatchUp, Config, parse_schedule};
use crate::model::records::{RunRecord, RunStatus, SuiteSchedule, Trigger};

/// One suite's cron schedule in a time zone, with the host's splay.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    pub suite: String,
    pub expression: String,
    cron: croner::Cron,
    pub timezone: Tz,
    pub splay: Duration,
}

impl Schedule {
    pub(crate) fn new(
        suite: &str,
        expression: &str,
        timezone: Tz,
        splay: Duration,
    ) -> Result<Self, crate::config::ScheduleError> {
        Ok(Schedule {
            suite: suite.to_string(),
            expression: expression.to_string(),
            cron: parse_schedule(expression)?,
            timezone,
            splay,
        })
    }

    /// The first cron time strictly after `after`, evaluated in the schedule's time zone.
    pub(crate) fn next_slot_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.timezone);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The latest cron time at or before `at`.
    pub(crate) fn latest_slot_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&self.timezone);
        self.cron
            .find_previous_occurrence(&local, true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// When a slot's run is due on this host.
    pub(crate) fn due(&self, slot: DateTime<Utc>) -> DateTime<Utc> {
        slot + chrono::Duration::from_std(self.splay).unwrap_or_default()
    }
}

/// The schedules of every enabled suite in `config`.
pub(crate) fn schedules(config: &Config, timezone: Tz, splay: Duration) -> Vec<Schedule> {
    config
        .suites
        .values()
        .filter(|s| s.enabled)
        .filter_map(|s| Schedule::new(&s.name, &s.schedule, timezone, splay).ok())
        .collect()
}

/// Time zone and splay of `config`'s schedules on the host `host_id`.
pub(crate) fn timing(config: &Config, host_id: &str) -> (Tz, Duration) {
    let timezone = config.daemon.timezone.unwrap_or_else(host_timezone);
    (timezone, splay::splay_for(host_id, config.daemon.splay))
}

/// The host's time zone: `$TZ`, else `/etc/localtime`, else UTC. The name it came from is
/// returned for `status`.
pub(crate) fn host_timezone() -> Tz {
    if let Ok(tz) = std::env::var("TZ") {
        if let Ok(parsed) = tz.trim_start_matches(':').parse::<Tz>() {
            return parsed;
        }
    }
    iana_time_zone::get_timezone()
        .ok()
        .and_then(|name| name.parse::<Tz>().ok())
        .unwrap_or(Tz::UTC)
}

/// One run waiting or running.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Job {
    /// Ticket number, unique for this daemon process; a CLI that asked for the run follows it.
    pub ticket: u64,
    pub suite: String,
    pub trigger: Trigger,
    /// The scheduled time this run is for (scheduled and catch-up runs).
    pub slot: Option<DateTime<Utc>>,
    /// `--bench` filter of a manual run (empty: the whole suite).
    pub benches: Vec<String>,
    pub quick: bool,
    pub queued_at: DateTime<Utc>,
    /// A confirmation run: the run whose suspicion it re-measures, and which attempt it is
    /// (1-based).
    #[serde(default)]
    pub confirms: Option<u64>,
    #[serde(default)]
    pub attempt: u32,
    /// `run --confirm`: confirm this run's suspicions at once rather than after the delay.
    #[serde(default)]
    pub confirm_now: bool,
    /// When this job first started waiting for a quiet host, and how many readings it took,
    /// if it stepped aside for a manual run meanwhile: its wait goes on from there.
    #[serde(default)]
    pub waiting_since: Option<DateTime<Utc>>,
    #[serde(default)]
    pub gate_checks: u32,
}

/// Something the agenda decided that the daemon should log.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Notice {
    /// Slots were missed while down and one catch-up run was queued.
    CatchingUp {
        suite: String,
        missed: DateTime<Utc>,
    },
    /// Slots were missed while down and forgotten (`catch_up = "skip"`).
    SkippedMissed {
        suite: String,
        missed: DateTime<Utc>,
    },
    /// A suite came due while it was already waiting in the queue.
    Coalesced { suite: String, slot: DateTime<Utc> },
}

struct Entry {
    schedule: Schedule,
    state: SuiteSchedule,
    /// The next slot not yet queued.
    next_slot: Option<DateTime<Utc>>,
}

impl Entry {
    fn next_due(&self) -> Option<DateTime<Utc>> {
        self.next_slot.map(|s| self.schedule.due(s))
    }
}

/// The schedule state machine: which suite runs next and when to wake up. It never reads
/// the clock; every method is told the time.
pub(crate) struct Agenda {
    entries: BTreeMap<String, Entry>,
    queue: VecDeque<Job>,
    running: Option<Job>,
    /// Confirmation runs waiting for their time, soonest first.
    confirmations: Vec<(DateTime<Utc>, Job)>,
    next_ticket: u64,
    /// Suites whose persisted state changed since the last `take_dirty`.
    dirty: Vec<String>,
}

impl Agenda {
    /// Builds the agenda from the schedules and their persisted states, queuing catch-up
    /// runs for slots missed while down.
    pub(crate) fn new(
        schedules: Vec<Schedule>,
        persisted: &BTreeMap<String, SuiteSchedule>,
        catch_up: CatchUp,
        now: DateTime<Utc>,
    ) -> (Agenda, Vec<Notice>) {
        let mut agenda = Agenda {
            entries: BTreeMap::new(),
            queue: VecDeque::new(),
            running: None,
            confirmations: Vec::new(),
            next_ticket: 1,
            dirty: Vec::new(),
        };
        let mut notices = Vec::new();
        for schedule in schedules {
            let suite = schedule.suite.clone();
            let mut state = persisted.get(&suite).cloned().unwrap_or_default();
            let last = match state.last_slot {
                Some(last) => last,
                None => {
                    // A new suite: arm it now; nothing was missed yet.
                    state.last_slot = Some(now);
                    now
                }
            };
            // The latest slot whose due time has passed.
            let splay = chrono::Duration::from_std(schedule.splay).unwrap_or_default();
            let missed = schedule
                .latest_slot_at_or_before(now - splay)
                .filter(|slot| *slot > last);
            let mut from = last;
            if let Some(slot) = missed {
                match catch_up {
                    CatchUp::Once => {
                        notices.push(Notice::CatchingUp {
                            suite: suite.clone(),
                            missed: slot,
                        });
                        let job = agenda.job(&suite, Trigger::CatchUp, Some(slot), now);
                        agenda.queue.push_back(job);
                    }
                    CatchUp::Skip => {
                        notices.push(Notice::SkippedMissed {
                            suite: suite.clone(),
                            missed: slot,
                        });
                        state.last_slot = Some(slot);
                    }
                }
                from = slot;
            }
            let next_slot = schedule.next_slot_after(from);
            state.next_due = next_slot.map(|s| schedule.due(s));
            agenda.dirty.push(suite.clone());
            agenda.entries.insert(
                suite,
                Entry {
                    schedule,
                    state,
                    next_slot,
                },
            );
        }
        (agenda, notices)
    }

    fn job(
        &mut self,
        suite: &str,
        trigger: Trigger,
        slot: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Job {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        Job {
            ticket,
            suite: suite.to_string(),
            trigger,
            slot,
            benches: Vec::new(),
            quick: false,
            queued_at: now,
            confirms: None,
            attempt: 0,
            confirm_now: false,
            waiting_since: None,
            gate_checks: 0,
        }
    }

    /// Queues, at `due`, a confirmation run of `benches` of `suite` for the suspicion that
    /// run `confirms` raised; returns its ticket. It waits in the queue like any run, so it
    /// never overlaps a suite.
    pub(crate) fn schedule_confirmation(
        &mut self,
        suite: &str,
        benches: Vec<String>,
        confirms: u64,
        attempt: u32,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> u64 {
        let mut job = self.job(suite, Trigger::Confirmation, None, now);
        job.benches = benches;
        job.confirms = Some(confirms);
        job.attempt = attempt;
        let ticket = job.ticket;
        self.confirmations.push((due, job));
        self.confirmations
            .sort_by_key(|(due, job)| (*due, job.ticket));
        ticket
    }

    /// Confirmation runs not yet due: (due time, job).
    pub(crate) fn pending_confirmations(&self) -> impl Iterator<Item = &(DateTime<Utc>, Job)> {
        self.confirmations.iter()
    }

    /// Queues every suite that has come due by `now` and, when nothing is running, starts
    /// the first waiting job and returns it. The caller runs it and calls [`finish`].
    ///
    /// [`finish`]: Agenda::finish
    pub(crate) fn poll(&mut self, now: DateTime<Utc>) -> (Option<Job>, Vec<Notice>) {
        let mut notices = Vec::new();
        // Due suites, oldest due time first, so the queue keeps schedule order.
        let mut due: Vec<(DateTime<Utc>, String)> = self
            .entries
            .iter()
            .filter_map(|(name, e)| {
                e.next_due()
                    .filter(|d| *d <= now)
                    .map(|d| (d, name.clone()))
            })
            .collect();
        due.sort();
        for (_, suite) in due {
            let entry = self.entries.get_mut(&suite).expect("entry exists");
            let schedule = entry.schedule.clone();
            // Every slot due by now collapses into one run for the latest of them.
            let mut slot = entry.next_slot.expect("due implies a slot");
            while let Some(next) = schedule
                .next_slot_after(slot)
                .filter(|n| schedule.due(*n) <= now)
            {
                slot = next;
            }
            entry.next_slot = schedule.next_slot_after(slot);
            entry.state.next_due = entry.next_due();
            self.dirty.push(suite.clone());
            let waiting = self
                .queue
                .iter_mut()
                .find(|j| j.suite == suite && j.trigger != Trigger::Manual);
            if let Some(waiting) = waiting {
                // It will run for the latest slot, which it then marks handled.
                waiting.slot = Some(slot);
                notices.push(Notice::Coalesced {
                    suite: suite.clone(),
                    slot,
                });
                continue;
            }
            let job = self.job(&suite, Trigger::Scheduled, Some(slot), now);
            self.queue.push_back(job);
        }
        while self
            .confirmations
            .first()
            .is_some_and(|(due, _)| *due <= now)
        {
            let (_, job) = self.confirmations.remove(0);
            self.queue.push_back(job);
        }
        if self.running.is_some() {
            return (None, notices);
        }
        let Some(job) = self.queue.pop_front() else {
            return (None, notices);
        };
        if let (Some(slot), Some(entry)) = (job.slot, self.entries.get_mut(&job.suite)) {
            if entry.state.last_slot.is_none_or(|last| last < slot) {
                entry.state.last_slot = Some(slot);
                self.dirty.push(job.suite.clone());
            }
        }
        self.running = Some(job.clone());
        (Some(job), notices)
    }

    /// Queues a manual run; returns its ticket and how many jobs are ahead of it
    /// (including the running one).
    pub(crate) fn enqueue_manual(
        &mut self,
        suite: &str,
        benches: Vec<String>,
        quick: bool,
        confirm_now: bool,
        now: DateTime<Utc>,
    ) -> (u64, usize) {
        let mut job = self.job(suite, Trigger::Manual, None, now);
        job.benches = benches;
        job.quick = quick;
        job.confirm_now = confirm_now;
        let ticket = job.ticket;
        self.queue.push_back(job);
        let ahead = self.queue.len() - 1 + usize::from(self.running.is_some());
        (ticket, ahead)
    }

    /// Records how the running job ended (`run` is `None` when it produced no run record,
    /// e.g. its suite vanished in a reload).
    pub(crate) fn finish(&mut self, ticket: u64, run: Option<&RunRecord>) {
        let Some(job) = self.running.take_if(|j| j.ticket == ticket) else {
            return;
        };
        let (Some(run), Some(entry)) = (run, self.entries.get_mut(&job.suite)) else {
            return;
        };
        let state = &mut entry.state;
        state.last_run = Some(run.id);
        state.last_started = Some(run.started_at);
        state.last_finished = run.finished_at;
        state.last_status = Some(run.status);
        // Only a full run counts as the suite succeeding (not `--quick` or `--bench`).
        if run.status == RunStatus::Success && !job.quick && job.benches.is_empty() {
            state.last_success = run.finished_at;
        }
        self.dirty.push(job.suite);
    }

    /// Ends the running job `ticket` as failed at `at` when its run left no record (the
    /// database could not be written): the suite's status shows the failure.
    pub(crate) fn finish_failed(&mut self, ticket: u64, at: DateTime<Utc>) {
        let Some(job) = self.running.take_if(|j| j.ticket == ticket) else {
            return;
        };
        let Some(entry) = self.entries.get_mut(&job.suite) else {
            return;
        };
        entry.state.last_finished = Some(at);
        entry.state.last_status = Some(RunStatus::Failed);
        self.dirty.push(job.suite);
    }

    /// Whether a manual run waits in the queue (a suite waiting for a quiet host steps aside
    /// for it: manual runs do not wait for the host).
    pub(crate) fn manual_waiting(&self) -> bool {
        self.queue.iter().any(|j| j.trigger == Trigger::Manual)
    }

    /// The running job, which is waiting for a quiet host, steps aside: the manual runs in
    /// the queue go first, then it resumes its wait (from `waiting_since`, after `checks`
    /// readings), ahead of the other queued jobs.
    pub(crate) fn step_aside(&mut self, ticket: u64, waiting_since: DateTime<Utc>, checks: u32) {
        let Some(mut job) = self.running.take_if(|j| j.ticket == ticket) else {
            return;
        };
        job.waiting_since = Some(waiting_since);
        job.gate_checks = checks;
        let (manual, others): (VecDeque<Job>, VecDeque<Job>) = std::mem::take(&mut self.queue)
            .into_iter()
            .partition(|j| j.trigger == Trigger::Manual);
        self.queue = manual;
        self.queue.push_back(job);
        self.queue.extend(others);
    }

    /// The running confirmation run is put back to wait until `due` (its load tests may not
    /// start inside a blackout window now).
    pub(crate) fn defer(&mut self, ticket: u64, due: DateTime<Utc>) {
        let Some(job) = self.running.take_if(|j| j.ticket == ticket) else {
            return;
        };
        self.confirmations.push((due, job));
        self.confirmations
            .sort_by_key(|(due, job)| (*due, job.ticket));
    }

    /// The earliest time at which [`poll`](Agenda::poll) can queue something new.
    pub(crate) fn next_wakeup(&self) -> Option<DateTime<Utc>> {
        self.entries
            .values()
            .filter_map(Entry::next_due)
            .chain(self.confirmations.first().map(|(due, _)| *due))
            .min()
    }

    pub(crate) fn queued(&self) -> impl Iterator<Item = &Job> {
        self.queue.iter()
    }

    /// Position of a ticket: `Some(0)` running, `Some(n)` n-th in the queue, `None` gone.
    pub(crate) fn position(&self, ticket: u64) -> Option<usize> {
        if self.running.as_ref().is_some_and(|j| j.ticket == ticket) {
            return Some(0);
        }
        self.queue
            .iter()
            .position(|j| j.ticket == ticket)
            .map(|p| p + 1)
    }

    /// Each scheduled suite with its schedule and persisted state.
    pub(crate) fn suites(&self) -> impl Iterator<Item = (&Schedule, &SuiteSchedule)> {
        self.entries.values().map(|e| (&e.schedule, &e.state))
    }

    /// States changed since the last call, to persist.
    pub(crate) fn take_dirty(&mut self) -> Vec<(String, SuiteSchedule)> {
        let mut names = std::mem::take(&mut self.dirty);
        names.sort();
        names.dedup();
        names
            .into_iter()
            .filter_map(|n| self.entries.get(&n).map(|e| (n, e.state.clone())))
            .collect()
    }

    /// Replaces the schedules after a config reload, keeping each suite's state, the queue
    /// and the running job. New suites are armed at `now`.
    pub(crate) fn reschedule(&mut self, schedules: Vec<Schedule>, now: DateTime<Utc>) {
        let mut old = std::mem::take(&mut self.entries);
        for schedule in schedules {
            let suite = schedule.suite.clone();
            let previous = old.remove(&suite);
            let unchanged = previous.as_ref().is_some_and(|e| {
                e.schedule.expression == schedule.expression
                    && e.schedule.timezone == schedule.timezone
                    && e.schedule.splay == schedule.splay
            });
            let (mut state, kept_slot) = match previous {
                Some(e) => (e.state, e.next_slot),
                None => (SuiteSchedule::default(), None),
            };
            let from = *state.last_slot.get_or_insert(now);
            // An unchanged schedule keeps its pending slot; a changed one starts from now.
            let next_slot = if unchanged {
                kept_slot
            } else {
                schedule.next_slot_after(from.max(now))
            };
            state.next_due = next_slot.map(|s| schedule.due(s));
            self.dirty.push(suite.clone());
            self.entries.insert(
                suite,
                Entry {
                    schedule,
                    state,
                    next_slot,
                },
            );
        }
        // Scheduled jobs of removed suites are dropped; manual ones run as asked.
        let entries = &self.entries;
        self.queue
            .retain(|j| j.trigger == Trigger::Manual || entries.contains_key(&j.suite));
    }
}

#[cfg(test)]
mod tests;
