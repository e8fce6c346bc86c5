#!/bin/sh
# nl2api-postgres: the entrypoint of the local PostgreSQL + pgvector image (scripts/build-postgres-image.sh).
#
# Environment, as the official postgres image reads it:
#   POSTGRES_USER              the bootstrap superuser (default postgres)
#   POSTGRES_PASSWORD          its password, or
#   POSTGRES_PASSWORD_FILE     a file holding it (a mounted Secret); one of the two is required to initialise
#                              PGDATA unless POSTGRES_HOST_AUTH_METHOD=trust
#   POSTGRES_DB                a database created at initialisation (default: POSTGRES_USER)
#   POSTGRES_HOST_AUTH_METHOD  scram-sha-256 (default) or trust (throwaway databases only)
#   POSTGRES_INITDB_ARGS       extra initdb options (split on blanks)
#   PGDATA                     the cluster directory (default /var/lib/postgresql/data/pgdata)
#
# On an empty PGDATA it runs initdb (SCRAM passwords, UTF-8), opens the server to the network with a pg_hba.conf
# that demands a SCRAM password from every client, creates POSTGRES_DB, and then execs postgres with the
# arguments it was given (`-c shared_buffers=256MB`, ...). A first argument that is not an option and not
# `postgres` is run instead of the server (`nl2api-postgres psql --version`).
#
# It writes only to PGDATA, so the root filesystem can be read-only; the server also needs a writable
# /var/run/postgresql for its socket and lock file (the chart mounts an emptyDir there). It runs as the
# postgres account (uid 10001); started as root, it hands PGDATA to that account and re-runs itself as it.
set -eu

log() {
  printf 'nl2api-postgres: %s\n' "$*" >&2
}

die() {
  log "$*"
  exit 1
}

POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
PGDATA="${PGDATA:-/var/lib/postgresql/data/pgdata}"
export PGDATA
auth_method="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"

case "${1:-}" in
  postgres) shift ;;
  "" | -*) ;;
  *) exec "$@" ;;
esac

if [ "$(id -u)" = 0 ]; then
  # PostgreSQL refuses to run as root: prepare PGDATA for the postgres account and start again as it.
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 0700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$0" "$@"
fi

# The superuser's password, read only when a cluster is created. It travels to initdb through a pipe, never
# through a file or a command line, and is removed from the environment before the server starts.
read_password() {
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    [ -z "${POSTGRES_PASSWORD:-}" ] || die "set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE, not both"
    [ -r "$POSTGRES_PASSWORD_FILE" ] || die "POSTGRES_PASSWORD_FILE ($POSTGRES_PASSWORD_FILE) is not readable by uid $(id -u)"
    password="$(cat "$POSTGRES_PASSWORD_FILE")"
  else
    password="${POSTGRES_PASSWORD:-}"
  fi
  case "$password" in
    *"
"*) die "the superuser password must be a single line" ;;
  esac
  if [ -z "$password" ] && [ "$auth_method" != trust ]; then
    die "POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE is required to initialise $PGDATA" \
      "(or POSTGRES_HOST_AUTH_METHOD=trust, for throwaway databases only)"
  fi
}

init_cluster() {
  case "$auth_method" in
    scram-sha-256 | trust) ;;
    *) die "POSTGRES_HOST_AUTH_METHOD must be scram-sha-256 or trust, not '$auth_method'" ;;
  esac
  read_password
  mkdir -p "$PGDATA" || die "cannot create PGDATA $PGDATA as uid $(id -u); make its volume writable (fsGroup 10001)"
  chmod 0700 "$PGDATA" || die "cannot chmod PGDATA $PGDATA as uid $(id -u); it must belong to uid $(id -u)"
  if [ -n "$(ls -A "$PGDATA")" ]; then
    die "PGDATA $PGDATA is not empty but holds no cluster (no PG_VERSION); point PGDATA at an empty" \
      "directory, e.g. a subdirectory of the volume"
  fi
  log "initialising a cluster in $PGDATA (superuser $POSTGRES_USER, $auth_method)"
  set -- --pgdata="$PGDATA" --username="$POSTGRES_USER" --auth-local="$auth_method" --auth-host="$auth_method" \
    --encoding=UTF8 --locale=C.UTF-8 --data-checksums --no-instructions
  if [ -n "$password" ]; then
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS holds several options, like the official image's
    printf '%s\n' "$password" | initdb "$@" --pwfile=/dev/stdin ${POSTGRES_INITDB_ARGS:-} >&2
  else
    # shellcheck disable=SC2086
    initdb "$@" ${POSTGRES_INITDB_ARGS:-} >&2
  fi
  write_config
  create_database
}

write_config() {
  cat >>"$PGDATA/postgresql.conf" <<EOF

# --- nl2api-postgres ---
listen_addresses = '*'
password_encryption = 'scram-sha-256'
EOF
  cat >"$PGDATA/pg_hba.conf" <<EOF
# Written by nl2api-postgres: every client, on the socket or over the network, proves a password ($auth_method).
# TYPE  DATABASE     USER  ADDRESS  METHOD
local   all          all            $auth_method
local   replication  all            $auth_method
host    all          all   all      $auth_method
host    replication  all   all      $auth_method
EOF
}

create_database() {
  [ "$POSTGRES_DB" != postgres ] || return 0
  log "creating database $POSTGRES_DB"
  quoted_db="\"$(printf '%s' "$POSTGRES_DB" | sed 's/"/""/g')\""
  # Single-user mode needs no socket, port or password, and reports a failed statement only in its output.
  errors="$(printf 'CREATE DATABASE %s;\n' "$quoted_db" | postgres --single -D "$PGDATA" template1 2>&1 >/dev/null)" ||
    die "creating database $POSTGRES_DB failed: $errors"
  case "$errors" in
    *ERROR:* | *FATAL:*) die "creating database $POSTGRES_DB failed: $errors" ;;
  esac
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  init_cluster
fi

unset POSTGRES_PASSWORD POSTGRES_PASSWORD_FILE password
exec postgres "$@"
