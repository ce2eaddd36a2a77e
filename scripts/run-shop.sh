#!/usr/bin/env bash
# Run the kiltshop shop: set up (venv, broker, Qt libs), start the shop service in
# the background, load the demo data if the shop is empty, then open the desktop
# app with all roles. Extra arguments are passed to `kiltshop app`.
# Without a screen, the service keeps running in the foreground instead.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/bootstrap.sh
source scripts/bootstrap.sh

kiltshop_bootstrap

KILTSHOP="$KILTSHOP_VENV/bin/kiltshop"
SERVICE_LOG="$KILTSHOP_VAR/service.log"
SERVICE_PID_FILE="$KILTSHOP_VAR/service.pid"
PING_WAIT="${KILTSHOP_PING_WAIT:-30}"
service_pid=""

mkdir -p "$KILTSHOP_VAR"

# A service left over from an earlier run?
if [[ -f "$SERVICE_PID_FILE" ]]; then
    old_pid="$(<"$SERVICE_PID_FILE")"
    if [[ "$old_pid" =~ ^[0-9]+$ ]] && kill -0 "$old_pid" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$old_pid/cmdline" 2>/dev/null | grep -q 'kiltshop service'; then
        ks_err "a shop service is already running (pid $old_pid, see $SERVICE_PID_FILE); stop it with: kill $old_pid"
        exit 1
    fi
    rm -f "$SERVICE_PID_FILE"
fi

# shellcheck disable=SC2329  # called by the EXIT trap
stop_service() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$service_pid" ]] && kill -0 "$service_pid" 2>/dev/null; then
        ks_say "stopping the shop service (pid $service_pid)..."
        kill -TERM "$service_pid" 2>/dev/null || true
        local i
        for ((i = 0; i < 100; i++)); do
            kill -0 "$service_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$service_pid" 2>/dev/null; then
            kill -KILL "$service_pid" 2>/dev/null || true
        fi
        wait "$service_pid" 2>/dev/null || true
    fi
    rm -f "$SERVICE_PID_FILE"
    exit "$rc"
}
trap stop_service EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ks_say "starting the shop service (log: var/service.log)..."
"$KILTSHOP" service >"$SERVICE_LOG" 2>&1 &
service_pid=$!
printf '%s\n' "$service_pid" >"$SERVICE_PID_FILE"

# Wait until the service answers over the broker.
deadline=$((SECONDS + PING_WAIT))
until timeout 10 "$KILTSHOP" ping >/dev/null 2>&1; do
    if ! kill -0 "$service_pid" 2>/dev/null; then
        ks_err "the shop service stopped right after starting; last lines of var/service.log:"
        tail -n 10 "$SERVICE_LOG" | sed 's/^/    /' >&2
        service_pid=""
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        ks_err "the shop service did not answer 'kiltshop ping' within ${PING_WAIT}s; see var/service.log."
        exit 1
    fi
    sleep 1
done
ks_say "the shop service is up (pid $service_pid)."

if ! "$KILTSHOP" demo-data --if-empty; then
    ks_err "'kiltshop demo-data --if-empty' failed; see the messages above and var/service.log."
    exit 1
fi

if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" ]]; then
    ks_say "there is no screen (DISPLAY and WAYLAND_DISPLAY are empty), so the app is not opened."
    ks_say "the shop service keeps running here (pid $service_pid, log: var/service.log); use the kiltshop CLI ($KILTSHOP) in another terminal. Press Ctrl+C to stop."
    rc=0
    wait "$service_pid" || rc=$?
    service_pid=""
    ks_say "the shop service stopped (exit $rc)."
    exit "$rc"
fi

rc=0
"$KILTSHOP" app --all-roles "$@" || rc=$?
exit "$rc"
