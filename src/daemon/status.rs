//! What `perfwarden status` shows, built the same way by the daemon (live state plus the
//! store) and by the CLI when no daemon runs (the store and the config only).

use crate::config::Config;
use crate::model::status::SuiteStatus;
use crate::scheduler::Agenda;
use crate::store::{Store, StoreError};

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
/// run is the one the daemon last computed; it is stale if the daemon has been down.
pub(crate) fn suites_from_store(
    config: &Config,
    store: Option<&Store>,
    timezone: chrono_tz::Tz,
) -> Result<Vec<SuiteStatus>, StoreError> {
    let states = match store {
        Some(store) => store.schedule_states()?,
        None => Default::default(),
    };
    Ok(config
        .suites
        .values()
        .map(|suite| {
            let state = states.get(&suite.name).cloned().unwrap_or_default();
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
