#!/usr/bin/env bash
# Checks alerts/ with the real tools of Debian 12 (prometheus 2.42, alertmanager 0.25),
# installing them when missing (as root):
#   - promtool check rules and promtool test rules (a unit test for every rule);
#   - amtool check-config and amtool config routes test: critical → pager, major → chat and
#     tickets, minor → daily digest, anything else → chat.
# Prints "alerts: N passed, M failed" for scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-test-servers.sh

passed=0
failed=0
check() { # description, command...
    local what=$1
    shift
    if output=$("$@" 2>&1); then
        echo "ok: $what"
        passed=$((passed + 1))
    else
        echo "FAILED: $what" >&2
        printf '%s\n' "$output" >&2
        failed=$((failed + 1))
    fi
}
route_is() { # expected receiver, labels...
    local expected=$1
    shift
    local got
    got=$(amtool config routes test --config.file=alerts/alertmanager.yml "$@" 2>/dev/null)
    [ "$got" = "$expected" ] || { echo "labels $* route to '$got', expected '$expected'"; return 1; }
}

check "promtool check rules" promtool check rules alerts/perfwarden.rules.yml
check "promtool test rules" promtool test rules alerts/tests/perfwarden.rules.test.yml
check "amtool check-config" amtool check-config alerts/alertmanager.yml
check "critical regressions page" route_is pager alertname=PerfwardenRegressionCritical severity=critical benchmark=cpu-primes-1t instance=db-1
check "major regressions go to chat and tickets" route_is chat-and-tickets alertname=PerfwardenRegressionMajor severity=major
check "minor findings go to the daily digest" route_is daily-digest alertname=PerfwardenHealthLow severity=minor
check "overdue suites go to chat and tickets" route_is chat-and-tickets alertname=PerfwardenWeeklySuiteOverdue severity=major
check "anything else goes to chat" route_is chat alertname=SomethingElse
echo "alerts: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
