//! systemd notifications (`Type=notify`): READY once serving, STATUS with what the daemon
//! does and when the next suite runs, RELOADING/READY around SIGHUP, STOPPING, and WATCHDOG
//! pings at half the `WatchdogSec` interval. Outside systemd (`$NOTIFY_SOCKET` unset)
//! every call does nothing.

use std::time::Duration;

use sd_notify::NotifyState;

fn send(states: &[NotifyState]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

pub(super) fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub(super) fn status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

pub(super) fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

pub(super) fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

pub(super) fn watchdog() {
    send(&[NotifyState::Watchdog]);
}

/// The watchdog ping interval: half of `WatchdogSec`, if systemd set one for us.
pub(super) fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|d| d / 2)
}
