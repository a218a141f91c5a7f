//! What `perfwarden status` shows, built the same way by the daemon (live state plus the
//! store) and by the CLI when no daemon runs (the store and the config only).

use crate::config::Config;
use crate::model::status::SuiteStatus;
use crate::scheduler::{self, Agenda, Schedule};
use crate::store::{Store, StoreError};
use chrono::{DateTime, Utc};

/// Suites from the live agenda (daemon) — enabled suites only, as scheduled.
pub(crate) fn suites_from_agenda(agenda: &Agenda) -> Vec<SuiteStatus> {
    agenda
        .suites()
        .map(|(schedule, state)| {
            SuiteStatus::new(
                &schedule.suite,
                &schedule.expression,
                true,
                state,
                schedule.timezone,
            )
        })
        .collect()
}

/// Suites from the config and the persisted schedule state (no daemon running). The next
/// run is the one the daemon last computed while it is still ahead; once it has passed (the
/// daemon is down) it is the schedule's next time from `now`, with this host's splay.
pub(crate) fn suites_from_store(
    config: &Config,
    store: Option<&Store>,
    now: DateTime<Utc>,
) -> Result<Vec<SuiteStatus>, StoreError> {
    let states = match store {
        Some(store) => store.schedule_states()?,
        None => Default::default(),
    };
    let (timezone, splay) = scheduler::timing(config, &scheduler::splay::host_id());
    Ok(config
        .suites
        .values()
        .map(|suite| {
            let mut state = states.get(&suite.name).cloned().unwrap_or_default();
            if suite.enabled && state.next_due.is_none_or(|due| due < now) {
                state.next_due = Schedule::new(&suite.name, &suite.schedule, timezone, splay)
                    .ok()
                    .and_then(|s| {
                        // The next slot whose due time (slot + splay) is still ahead.
                        let splay = chrono::Duration::from_std(s.splay).unwrap_or_default();
                        s.next_slot_after(now - splay).map(|slot| s.due(slot))
                    });
            }
            SuiteStatus::new(
                &suite.name,
                &suite.schedule,
                suite.enabled,
                &state,
                timezone,
            )
        })
        .collect())
}
