#!/usr/bin/env bash
# Make a local PostgreSQL + PostGIS database available and print its URL on stdout.
#
# With DATABASE_URL already set, the project uses that database and this script
# touches nothing: it only echoes the URL back. Otherwise (a fresh Debian/Ubuntu
# machine as root, no Docker engine needed) it installs PostgreSQL and PostGIS from
# Debian packages when missing, starts a cluster, and creates the role and database.
# Usage: scripts/ensure_db.sh [--fresh] [DBNAME]   (default: fieldrecall)
#   --fresh drops and re-creates DBNAME first: `make test` uses it for its dedicated test
#   database, so that what an earlier run (of another branch, say) left there, rows or a
#   newer migration, never decides this run.
set -euo pipefail

fresh=0
if [ "${1:-}" = "--fresh" ]; then
  fresh=1
  shift
fi

if [ -n "${DATABASE_URL:-}" ]; then
  echo "$DATABASE_URL"
  exit 0
fi

db_name="${1:-fieldrecall}"
db_user="fieldrecall"
db_password="fieldrecall"
port="${FIELDRECALL_PG_PORT:-5432}"
log() { echo "[ensure_db] $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    apt_updated=1
  fi
  log "installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt_install postgresql postgresql-contrib
fi
# The newest installed server version; PostGIS must match it.
pg_version="$(ls /usr/lib/postgresql | sort -n | tail -n 1)"
if [ ! -f "/usr/share/postgresql/${pg_version}/extension/postgis.control" ]; then
  apt_install "postgresql-${pg_version}-postgis-3"
fi

cluster="main"
if ! pg_lsclusters -h | awk '{print $1"/"$2}' | grep -qx "${pg_version}/${cluster}"; then
  log "creating cluster ${pg_version}/${cluster} on port ${port}"
  as_root pg_createcluster --port "$port" "$pg_version" "$cluster" >&2
fi
cluster_port="$(pg_lsclusters -h | awk -v v="$pg_version" -v c="$cluster" '$1==v && $2==c {print $3}')"
if ! pg_lsclusters -h | awk -v v="$pg_version" -v c="$cluster" '$1==v && $2==c {print $4}' | grep -q online; then
  log "starting cluster ${pg_version}/${cluster}"
  as_root pg_ctlcluster "$pg_version" "$cluster" start >&2
fi

psql_admin() { as_root su postgres -c "psql -p $cluster_port -v ON_ERROR_STOP=1 -qAt $*"; }
for _ in $(seq 1 30); do
  psql_admin "-c 'select 1'" >/dev/null 2>&1 && break
  sleep 1
done

if [ "$(psql_admin "-c \"select 1 from pg_roles where rolname='${db_user}'\"")" != "1" ]; then
  log "creating role ${db_user}"
  # Superuser so that migrations can CREATE EXTENSION postgis in a fresh database.
  psql_admin "-c \"create role ${db_user} login superuser password '${db_password}'\"" >&2
fi
if [ "$fresh" -eq 1 ]; then
  log "dropping database ${db_name} (fresh)"
  psql_admin "-c \"drop database if exists ${db_name} with (force)\"" >&2
fi
if [ "$(psql_admin "-c \"select 1 from pg_database where datname='${db_name}'\"")" != "1" ]; then
  log "creating database ${db_name}"
  psql_admin "-c \"create database ${db_name} owner ${db_user}\"" >&2
fi

echo "postgresql+psycopg://${db_user}:${db_password}@127.0.0.1:${cluster_port}/${db_name}"
