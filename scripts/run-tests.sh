#!/usr/bin/env bash
# Run the kiltshop checks: set up (venv, broker, Qt libs), then ruff, mypy and
# pytest. Arguments go to pytest (default: the whole suite under tests/).
# All three steps run; the exit code is that of the first step that failed.
#
# pytest runs on KILTSHOP_TEST_WORKERS pytest-xdist workers (default 3, measured best on 2 cores: see
# docs/benchmarks.md; 0 runs everything in one process), each test file on one worker and the modules that
# provision private RabbitMQ nodes on one worker together (--dist loadgroup; the groups: tests/conftest.py).
# A missing broker fails the run here (KILTSHOP_TEST_REQUIRE_BROKER=1); bare pytest would skip those tests.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/bootstrap.sh
source scripts/bootstrap.sh

kiltshop_bootstrap

export QT_QPA_PLATFORM=offscreen
export KILTSHOP_TEST_REQUIRE_BROKER=1
workers="${KILTSHOP_TEST_WORKERS:-3}"

first_rc=0
failed=()

run_step() {
    local name="$1" rc=0
    shift
    ks_say "running $name..."
    "$@" || rc=$?
    if [[ $rc -ne 0 ]]; then
        failed+=("$name (exit $rc)")
        [[ $first_rc -eq 0 ]] && first_rc=$rc
    fi
    return 0
}

if [[ $# -eq 0 ]]; then
    set -- tests
fi

run_step ruff "$KILTSHOP_VENV/bin/ruff" check app ui tests bench scripts
run_step mypy "$KILTSHOP_VENV/bin/mypy" app ui

pytest_rc=0
ks_say "running pytest..."
"$KILTSHOP_VENV/bin/python" -m pytest -n "$workers" --dist loadgroup "$@" || pytest_rc=$?
if [[ $pytest_rc -eq 5 ]]; then
    ks_err "pytest collected no tests (exit 5); that counts as a failure."
fi
if [[ $pytest_rc -ne 0 ]]; then
    failed+=("pytest (exit $pytest_rc)")
    [[ $first_rc -eq 0 ]] && first_rc=$pytest_rc
fi

if [[ $first_rc -ne 0 ]]; then
    printf -v summary '%s, ' "${failed[@]}"
    ks_err "failed: ${summary%, }."
    exit "$first_rc"
fi
ks_say "all checks passed."
