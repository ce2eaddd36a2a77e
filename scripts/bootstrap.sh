#!/usr/bin/env bash
# Set up what kiltshop needs on a Debian 12 machine (Python 3.11+):
#   ensure_venv     .venv in the repo root, `pip install -e '.[test,postgres]'`
#                   only when pyproject.toml changed since the last install
#   ensure_broker   a RabbitMQ broker on ${KILTSHOP_BROKER_HOST}:${KILTSHOP_BROKER_PORT};
#                   installs and starts the Debian rabbitmq-server package if needed
#   ensure_qt_libs  the Debian libraries PySide6 needs (skipped without dpkg)
#
# Sourced by scripts/run-shop.sh and scripts/run-tests.sh (they call kiltshop_bootstrap).
# Run directly: `bash scripts/bootstrap.sh [venv] [broker] [qt]` (no argument = all three).
#
# Settings (environment):
#   KILTSHOP_BROKER_HOST (127.0.0.1)  KILTSHOP_BROKER_PORT (5672); when unset, they are
#                              taken from KILTSHOP_BROKER_URL if that is set
#   KILTSHOP_BROKER_WAIT (90)  seconds to wait for a broker we started
#   KILTSHOP_PYTHON            interpreter used to create .venv (default: first python3.x >= 3.11)
set -euo pipefail

KILTSHOP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KILTSHOP_VENV="$KILTSHOP_ROOT/.venv"
KILTSHOP_STAMP="$KILTSHOP_VENV/.kiltshop-installed"
KILTSHOP_VAR="$KILTSHOP_ROOT/var"
# Overridable only so the install/start path can be exercised in tests.
: "${KILTSHOP_RABBITMQ_SERVER:=/usr/sbin/rabbitmq-server}"

KILTSHOP_QT_PACKAGES=(
    libegl1 libxkbcommon-x11-0 libxcb-cursor0 libgl1 libxcb-icccm4 libxcb-keysyms1
    libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0
    libdbus-1-3 libfontconfig1
    # libQt6Core/libQt6Gui link libglib-2.0 and libgthread-2.0, which none of the above pulls in.
    libglib2.0-0
)

_ks_apt_updated=0

ks_say() { printf 'kiltshop: %s\n' "$*"; }
ks_err() { printf 'kiltshop: %s\n' "$*" >&2; }

# --- privileges ---------------------------------------------------------------

# True when we are root, or sudo can be used (without a password, or with a
# terminal to ask for one).
_ks_can_root() {
    [[ $EUID -eq 0 ]] && return 0
    command -v sudo >/dev/null 2>&1 || return 1
    sudo -n true >/dev/null 2>&1 && return 0
    [[ -t 0 ]]
}

# Run a command as root (directly or through sudo).
_ks_as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    else
        sudo "$@"
    fi
}

# The instruction we print for commands that need root, e.g.
# `_ks_root_hint "apt-get update" "apt-get install -y x"` ->
# "run: sudo apt-get update && sudo apt-get install -y x".
_ks_root_hint() {
    local pre="" lead="run:" out="" c
    if [[ $EUID -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then pre="sudo "; else lead="run as root:"; fi
    fi
    for c in "$@"; do out+="${out:+ && }$pre$c"; done
    printf '%s %s' "$lead" "$out"
}

# apt-get update (once per run) + apt-get install. apt output goes to var/apt.log;
# on failure its last lines are shown.
_ks_apt_install() {
    local log="$KILTSHOP_VAR/apt.log" rc=0
    mkdir -p "$KILTSHOP_VAR"
    : >"$log"
    if [[ $_ks_apt_updated -eq 0 ]]; then
        _ks_as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get -o DPkg::Lock::Timeout=120 update >>"$log" 2>&1 || rc=$?
        if [[ $rc -ne 0 ]]; then
            ks_err "apt-get update failed (exit $rc); last lines of $log:"
            tail -n 5 "$log" | sed 's/^/    /' >&2
            return "$rc"
        fi
        _ks_apt_updated=1
    fi
    _ks_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=120 install -y --no-install-recommends "$@" >>"$log" 2>&1 || rc=$?
    if [[ $rc -ne 0 ]]; then
        ks_err "apt-get install $* failed (exit $rc); last lines of $log:"
        tail -n 5 "$log" | sed 's/^/    /' >&2
        return "$rc"
    fi
}

# --- venv ---------------------------------------------------------------------

# Print the first interpreter that is Python >= 3.11.
_ks_find_python() {
    local c
    for c in ${KILTSHOP_PYTHON:-} python3 python3.13 python3.12 python3.11; do
        command -v "$c" >/dev/null 2>&1 || continue
        if "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}

_ks_sha256() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        "$KILTSHOP_VENV/bin/python" -c \
            'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"
    fi
}

_ks_venv_ok() {
    [[ -x "$KILTSHOP_VENV/bin/python" ]] &&
        "$KILTSHOP_VENV/bin/python" -m pip --version >/dev/null 2>&1
}

ensure_venv() {
    if ! _ks_venv_ok; then
        local py
        if ! py="$(_ks_find_python)"; then
            if command -v apt-get >/dev/null 2>&1 && _ks_can_root; then
                ks_say "no Python 3.11+ found; installing python3 and python3-venv with apt-get..."
                _ks_apt_install python3 python3-venv || exit 1
                py="$(_ks_find_python)" || { ks_err "Python 3.11+ is still missing after apt-get."; exit 1; }
            else
                ks_err "Python 3.11 or newer is needed; on Debian, $(_ks_root_hint "apt-get update" "apt-get install -y python3 python3-venv")   (then run this again)"
                exit 1
            fi
        fi
        # Debian ships venv without ensurepip; that part is the python3-venv package.
        if ! "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
            if command -v apt-get >/dev/null 2>&1 && _ks_can_root; then
                ks_say "the Python venv module is missing; installing python3-venv with apt-get..."
                _ks_apt_install python3-venv || exit 1
            fi
            if ! "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
                ks_err "the Python venv module is missing; $(_ks_root_hint "apt-get update" "apt-get install -y python3-venv")   (then run this again)"
                exit 1
            fi
        fi
        ks_say "creating the virtual environment .venv with $py..."
        if ! "$py" -m venv "$KILTSHOP_VENV" >/dev/null; then
            ks_err "could not create .venv with $py -m venv."
            exit 1
        fi
        rm -f "$KILTSHOP_STAMP"
    fi

    local want have=""
    want="$(_ks_sha256 "$KILTSHOP_ROOT/pyproject.toml")"
    [[ -f "$KILTSHOP_STAMP" ]] && have="$(<"$KILTSHOP_STAMP")"
    if [[ "$want" == "$have" && -x "$KILTSHOP_VENV/bin/kiltshop" ]]; then
        return 0
    fi
    ks_say "installing kiltshop and its dependencies into .venv (pyproject.toml changed; this can take a few minutes)..."
    local log="$KILTSHOP_VAR/pip-install.log"
    mkdir -p "$KILTSHOP_VAR"
    if ! (cd "$KILTSHOP_ROOT" &&
        "$KILTSHOP_VENV/bin/python" -m pip install --disable-pip-version-check \
            -e '.[test,postgres]') >"$log" 2>&1; then
        ks_err "pip install -e '.[test,postgres]' failed; last lines of $log:"
        grep -v '^WARNING: Location ' "$log" | tail -n 15 | sed 's/^/    /' >&2
        exit 1
    fi
    printf '%s\n' "$want" >"$KILTSHOP_STAMP"
    ks_say "dependencies installed."
}

# --- broker -------------------------------------------------------------------

# True when something accepts TCP connections on host:port (2 s timeout).
ks_port_open() {
    local host="$1" port="$2"
    if command -v timeout >/dev/null 2>&1; then
        # shellcheck disable=SC2016  # $1/$2 expand in the child bash
        timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "$port" >/dev/null 2>&1
    else
        local py
        py="$(_ks_find_python)" || return 1
        "$py" - "$host" "$port" >/dev/null 2>&1 <<'EOF'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
except Exception:
    sys.exit(1)
EOF
    fi
}

_ks_is_local_host() {
    case "$1" in
        127.*|localhost|::1|localhost.localdomain) return 0 ;;
        *) return 1 ;;
    esac
}

# Print "host port" of the broker: KILTSHOP_BROKER_HOST/PORT, else the host and
# port of KILTSHOP_BROKER_URL (amqp://user:pass@host:port/vhost), else 127.0.0.1 5672.
ks_broker_addr() {
    local host="" port="" def_port=5672
    if [[ -n "${KILTSHOP_BROKER_URL:-}" ]]; then
        local hp="${KILTSHOP_BROKER_URL#*://}"
        [[ "$KILTSHOP_BROKER_URL" == amqps://* ]] && def_port=5671
        hp="${hp%%/*}"; hp="${hp%%\?*}"; hp="${hp##*@}"
        if [[ "$hp" =~ ^\[([^]]*)\](:([0-9]+))?$ ]]; then
            host="${BASH_REMATCH[1]}"; port="${BASH_REMATCH[3]}"
        elif [[ "$hp" =~ ^([^:]*)(:([0-9]+))?$ ]]; then
            host="${BASH_REMATCH[1]}"; port="${BASH_REMATCH[3]}"
        fi
    fi
    host="${KILTSHOP_BROKER_HOST:-${host:-127.0.0.1}}"
    port="${KILTSHOP_BROKER_PORT:-${port:-$def_port}}"
    printf '%s %s\n' "$host" "$port"
}

ensure_broker() {
    local host port
    read -r host port < <(ks_broker_addr)
    local wait_s="${KILTSHOP_BROKER_WAIT:-90}"

    if ks_port_open "$host" "$port"; then
        return 0
    fi
    if ! _ks_is_local_host "$host"; then
        ks_err "no RabbitMQ broker answers on $host:$port; start it there, or unset KILTSHOP_BROKER_HOST to use a local one."
        exit 1
    fi
    ks_say "no RabbitMQ broker answers on $host:$port; starting a local one."

    if [[ ! -x "$KILTSHOP_RABBITMQ_SERVER" ]]; then
        if ! command -v apt-get >/dev/null 2>&1; then
            ks_err "RabbitMQ is not installed and apt-get is not available; install and start RabbitMQ on $host:$port, then run this again."
            exit 1
        fi
        if ! _ks_can_root; then
            ks_err "RabbitMQ is not installed; $(_ks_root_hint "apt-get update" "apt-get install -y rabbitmq-server")   (then run this again)"
            exit 1
        fi
        ks_say "installing rabbitmq-server with apt-get (this can take a few minutes)..."
        _ks_apt_install rabbitmq-server || exit 1
        if [[ ! -x "$KILTSHOP_RABBITMQ_SERVER" ]]; then
            ks_err "apt-get finished but $KILTSHOP_RABBITMQ_SERVER is still missing."
            exit 1
        fi
        # The package may have started the server itself.
        if ks_port_open "$host" "$port"; then
            ks_say "RabbitMQ is up on $host:$port."
            return 0
        fi
    fi

    if ! _ks_can_root; then
        ks_err "RabbitMQ is installed but not running, and starting it needs root; $(_ks_root_hint "rabbitmq-server -detached")   (then run this again)"
        exit 1
    fi

    mkdir -p "$KILTSHOP_VAR"
    local log="$KILTSHOP_VAR/rabbitmq-start.log" started=0
    : >"$log"
    # Only use the service manager when systemd really runs (not in containers).
    if [[ -d /run/systemd/system ]] && command -v service >/dev/null 2>&1 && [[ "$port" == 5672 ]]; then
        ks_say "starting rabbitmq-server (service rabbitmq-server start)..."
        if _ks_as_root timeout 120 service rabbitmq-server start >>"$log" 2>&1; then
            started=1
        fi
    fi
    if [[ $started -eq 0 ]]; then
        ks_say "starting rabbitmq-server (rabbitmq-server -detached)..."
        local envs=()
        [[ "$port" != 5672 ]] && envs=("RABBITMQ_NODE_PORT=$port")
        # A failure here is not final (e.g. the node is already booting); the port decides.
        _ks_as_root env "${envs[@]}" "$KILTSHOP_RABBITMQ_SERVER" -detached >>"$log" 2>&1 || true
    fi

    ks_say "waiting up to ${wait_s}s for RabbitMQ on $host:$port..."
    local i
    for ((i = 1; i <= wait_s; i++)); do
        if ks_port_open "$host" "$port"; then
            ks_say "RabbitMQ is up on $host:$port."
            return 0
        fi
        if ((i % 10 == 0)); then
            ks_say "waiting for RabbitMQ on $host:$port... ${i}s"
        fi
        sleep 1
    done
    ks_err "RabbitMQ did not start within ${wait_s}s; see the logs in /var/log/rabbitmq/ (and $log)."
    exit 1
}

# --- Qt libraries -------------------------------------------------------------

ensure_qt_libs() {
    command -v dpkg >/dev/null 2>&1 || return 0
    local p missing=()
    for p in "${KILTSHOP_QT_PACKAGES[@]}"; do
        if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
            missing+=("$p")
        fi
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0

    local hint
    hint="$(_ks_root_hint "apt-get update" "apt-get install -y ${missing[*]}")"
    if command -v apt-get >/dev/null 2>&1 && _ks_can_root; then
        ks_say "installing the libraries the Qt app needs: ${missing[*]}..."
        if _ks_apt_install "${missing[@]}"; then
            return 0
        fi
    fi
    ks_err "some libraries the Qt app needs are missing; to show the app on screen, $hint"
    return 0
}

# --- all ----------------------------------------------------------------------

kiltshop_bootstrap() {
    ensure_venv
    ensure_broker
    ensure_qt_libs
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    if [[ $# -eq 0 ]]; then
        kiltshop_bootstrap
    else
        for step in "$@"; do
            case "$step" in
                venv) ensure_venv ;;
                broker) ensure_broker ;;
                qt) ensure_qt_libs ;;
                *) ks_err "unknown step '$step' (use: venv, broker, qt)"; exit 2 ;;
            esac
        done
    fi
    ks_say "ready."
fi
