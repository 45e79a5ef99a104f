#!/usr/bin/env bash
# Static validation of everything under deploy/: exits non-zero if anything fails.
#
#   deploy/check.sh            # all checks
#   deploy/check.sh rules      # one of: rules alertmanager systemd kubernetes
#
# Needs: promtool (Debian prometheus), amtool (prometheus-alertmanager), systemd-analyze
# (systemd), the project's venv (kubernetes-validate, jsonschema, PyYAML) and, for the
# rendered Kustomize check, kubectl. A missing tool fails its check when
# SLA_PROBE_REQUIRE_REAL=1 (CI) and is reported as skipped otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."
DEPLOY=deploy
PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
failures=0
skipped=0

say() { printf '%s\n' "$*"; }
fail() { say "FAIL: $*" >&2; failures=$((failures + 1)); }

need() {  # need TOOL: 0 if present; else skip (or fail under SLA_PROBE_REQUIRE_REAL=1)
  if command -v "$1" >/dev/null 2>&1; then return 0; fi
  if [ "${SLA_PROBE_REQUIRE_REAL:-}" = "1" ]; then
    fail "$1 is not installed (SLA_PROBE_REQUIRE_REAL=1)"
  else
    say "SKIP: $1 is not installed"
    skipped=$((skipped + 1))
  fi
  return 1
}

check_rules() {
  need promtool || return 0
  promtool check rules "$DEPLOY/prometheus/rules.yml" || fail "promtool check rules"
  promtool test rules "$DEPLOY"/prometheus/tests/*.yml || fail "promtool test rules"
}

check_alertmanager() {
  need amtool || return 0
  amtool check-config "$DEPLOY/alertmanager/alertmanager.yml" || fail "amtool check-config"
}

check_systemd() {
  need systemd-analyze || return 0
  local unit="$DEPLOY/systemd/sla-probe.service" root out
  # verify resolves Exec*= programs and the unit's dependencies: give it a root with the
  # system's units and stand-in programs, so the file itself is verified unchanged.
  root=$(mktemp -d)
  mkdir -p "$root/usr/bin" "$root/etc/systemd/system" "$root/usr/lib/systemd"
  for dir in /usr/lib/systemd/system /lib/systemd/system; do
    if [ -d "$dir" ]; then cp -r "$dir" "$root/usr/lib/systemd/"; break; fi
  done
  # The Exec*= programs: a stand-in for sla-probe itself; any other must exist on this
  # machine (it is copied in), so a misspelt program still fails.
  local program found
  for program in $(sed -n 's/^Exec[A-Za-z]*=[-@:+!]*\([^ ]*\).*/\1/p' "$unit"); do
    case "$program" in /*) ;; *) program="/usr/bin/$program" ;; esac
    mkdir -p "$root$(dirname "$program")"
    if [ "$(basename "$program")" = sla-probe ]; then
      printf '#!/bin/sh\nexit 0\n' > "$root$program"
      chmod +x "$root$program"
    elif found=$(type -P "$(basename "$program")"); then
      cp "$found" "$root$program"
    fi
  done
  cp "$unit" "$root/etc/systemd/system/"
  # systemd-analyze verify exits 0 on unknown keys, so any output is a failure too.
  if ! out=$(systemd-analyze verify --man=no --root="$root" sla-probe.service 2>&1) \
      || [ -n "$out" ]; then
    say "$out" >&2
    fail "systemd-analyze verify"
  fi
  rm -rf "$root"
  # exposure 2.0 or lower (the threshold is in tenths)
  out=$(systemd-analyze security --offline=true --threshold=20 "$unit" 2>&1)
  local status=$?
  say "$out" | tail -n 1
  [ "$status" -eq 0 ] || fail "systemd-analyze security: exposure above 2.0"
}

check_kubernetes() {
  "$PYTHON" "$DEPLOY/kubernetes/generate.py" --check || fail "PrometheusRule is stale"
  "$PYTHON" "$DEPLOY/kubernetes/validate.py" "$DEPLOY/kubernetes/base" \
    || fail "manifest validation"
  need kubectl || return 0
  local rendered
  if ! rendered=$(kubectl kustomize "$DEPLOY/kubernetes/base"); then
    fail "kubectl kustomize"
    return 0
  fi
  printf '%s\n' "$rendered" | "$PYTHON" "$DEPLOY/kubernetes/validate.py" - \
    || fail "rendered manifest validation"
}

checks=("$@")
[ ${#checks[@]} -eq 0 ] && checks=(rules alertmanager systemd kubernetes)
for name in "${checks[@]}"; do
  case "$name" in
    rules|alertmanager|systemd|kubernetes) say "== $name"; "check_$name" ;;
    *) say "unknown check: $name (rules alertmanager systemd kubernetes)" >&2; exit 2 ;;
  esac
done
if [ "$failures" -gt 0 ]; then
  say "deploy/check.sh: $failures failed, $skipped skipped" >&2
  exit 1
fi
say "deploy/check.sh: all passed, $skipped skipped"
