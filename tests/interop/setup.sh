#!/usr/bin/env bash
# Installs the two interop peers from the package registries:
#   js/node_modules      <- npm ci (rsmq 0.12.4 pinned by js/package-lock.json)
#   python/.venv         <- PyRSMQ 0.6.1 + pinned deps from python/requirements.txt
# Idempotent: each peer is skipped when already installed at the right version.
# Works from any cwd.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
js_dir="$here/js"
py_dir="$here/python"
venv="$py_dir/.venv"

RSMQ_JS_VERSION=0.12.4
PYRSMQ_VERSION=0.6.1

log() { printf '[interop setup] %s\n' "$*" >&2; }

# ---- JavaScript peer
js_installed_version() {
  local pj="$js_dir/node_modules/rsmq/package.json"
  [[ -f "$pj" ]] || return 0
  node -e 'process.stdout.write(String(require(process.argv[1]).version || ""))' "$pj" 2>/dev/null || true
}

if [[ "$(js_installed_version)" == "$RSMQ_JS_VERSION" && -f "$js_dir/node_modules/redis/package.json" ]]; then
  log "js: rsmq $RSMQ_JS_VERSION already installed"
else
  command -v npm >/dev/null || { log "npm not found (need Node.js + npm)"; exit 1; }
  log "js: npm ci"
  (cd "$js_dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
  got="$(js_installed_version)"
  if [[ "$got" != "$RSMQ_JS_VERSION" ]]; then
    log "js: expected rsmq $RSMQ_JS_VERSION, found '${got}'"
    exit 1
  fi
fi

# ---- Python peer
py_installed_version() {
  [[ -x "$venv/bin/python" ]] || return 0
  "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("PyRSMQ"), end="")' 2>/dev/null || true
}

if [[ "$(py_installed_version)" == "$PYRSMQ_VERSION" ]]; then
  log "python: PyRSMQ $PYRSMQ_VERSION already installed"
else
  python="${PYTHON:-python3}"
  command -v "$python" >/dev/null || { log "$python not found"; exit 1; }
  if [[ ! -x "$venv/bin/python" ]]; then
    log "python: creating venv"
    "$python" -m venv "$venv"
  fi
  log "python: pip install -r requirements.txt"
  "$venv/bin/pip" install --disable-pip-version-check --no-input -q -r "$py_dir/requirements.txt" >&2
  got="$(py_installed_version)"
  if [[ "$got" != "$PYRSMQ_VERSION" ]]; then
    log "python: expected PyRSMQ $PYRSMQ_VERSION, found '${got}'"
    exit 1
  fi
fi

log "ok: js=$js_dir/driver.js python=$venv/bin/python $py_dir/driver.py"
