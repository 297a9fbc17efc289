#!/usr/bin/env bash
# Black-box e2e suite: builds mana-auth, then runs every e2e/*.test.mjs with
# the published better-auth client against SQLite and, when
# E2E_POSTGRES_URL is set, once more against a fresh PostgreSQL database.
#
#   bash e2e/run.sh                      # SQLite only
#   E2E_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test bash e2e/run.sh
#   bash e2e/run.sh core.test.mjs        # only some files
#
# E2E_VERBOSE=1 prints each server's log after its file ran.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

echo "e2e: building mana-auth"
(cd "$root" && go build -o e2e/.bin/mana-auth ./cmd/mana-auth && go build -o e2e/.bin/baformats ./internal/tools/baformats)

cd "$here"
if [ ! -d node_modules ]; then
    echo "e2e: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
fi

if [ "$#" -gt 0 ]; then
    files=("$@")
else
    files=(./*.test.mjs)
fi

# One file at a time: each file starts its own server, and on PostgreSQL
# they share one database. The timeout bounds a hung test, not the run.
run_suite() {
    echo "e2e: running against $1"
    node --test --test-concurrency=1 --test-timeout=60000 "${files[@]}"
}

# Servers of one run share the secret, as a deployment's restarts do.
E2E_AUTH_SECRET="${E2E_AUTH_SECRET:-$(head -c 36 /dev/urandom | base64)}"
export E2E_AUTH_SECRET

status=0
E2E_DATABASE_URL= run_suite "SQLite (temp file)" || status=1

if [ -n "${E2E_POSTGRES_URL:-}" ]; then
    db="mana_e2e_$(LC_ALL=C tr -dc 'a-z0-9' </dev/urandom | head -c 10 || true)"
    pg_url="$(node -e 'const u = new URL(process.argv[1]);
        u.pathname = "/" + process.argv[2]; console.log(u.href)' "$E2E_POSTGRES_URL" "$db")"
    psql "$E2E_POSTGRES_URL" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $db" >/dev/null
    drop_db() {
        psql "$E2E_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    }
    trap drop_db EXIT
    E2E_DATABASE_URL="$pg_url" run_suite "PostgreSQL ($db)" || status=1
fi

if [ "$status" -ne 0 ]; then
    echo "e2e: FAILED" >&2
else
    echo "e2e: all suites passed"
fi
exit "$status"
