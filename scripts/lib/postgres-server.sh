#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for tests, benchmarks and drills: the one place that knows how
# to make and start one (scripts/lib/tools.sh, tests/api/common/postgres.rs and the drills call it).
#   postgres-server.sh init DIR [durable]    initdb into DIR (which must not exist; its parent must be
#                                            reachable by the postgres user when run as root)
#   postgres-server.sh run DIR PORT [ARG...] exec the server in the foreground (so the caller's child is the
#                                            postmaster itself), with extra server arguments such as -c ssl=on
#   postgres-server.sh standby DIR PORT NAME a streaming standby of the server on 127.0.0.1:PORT, copied into DIR
#                                            by pg_basebackup, connecting as NAME (synchronous_standby_names)
#   postgres-server.sh promote DIR           pg_ctl promote: the standby in DIR becomes a primary (waits for it)
#   postgres-server.sh bin                   print the directory of the server's programs
# initdb and postgres refuse to run as root: as root, both run as the `postgres` system user (Debian's package
# creates it) and DIR is handed to it. The superuser is `postgres`, trusted on 127.0.0.1 without a password;
# every other role authenticates with SCRAM. Test servers skip fsync (their data is thrown away, and what the
# tests kill is the service, never the machine); `durable` keeps PostgreSQL's defaults, for benchmarks.
set -euo pipefail

bin_dir() {
  if [ -n "${POSTGRES_BIN:-}" ]; then echo "$POSTGRES_BIN"; return; fi
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -x "$dir/initdb" ] || {
    echo "PostgreSQL's server is not installed: run ./scripts/test.sh rust once (it installs Debian's postgresql)" >&2
    exit 1
  }
  echo "$dir"
}

# as_owner CMD...: CMD as the postgres system user when root, else as ourselves.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
  else
    "$@"
  fi
}

command="${1:-}"
case "$command" in
  bin) bin_dir ;;
  init)
    dir="$2" durable="${3:-}"
    bin="$(bin_dir)"
    mkdir "$dir"
    [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$dir"
    as_owner "$bin/initdb" -D "$dir" -U postgres -E UTF8 --locale=C --no-sync --auth=trust >/dev/null
    as_owner tee -a "$dir/postgresql.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 400
shared_buffers = 128MB
max_wal_size = 2GB
log_line_prefix = '%m [%p] '
EOF
    if [ "$durable" != durable ]; then
      as_owner tee -a "$dir/postgresql.conf" >/dev/null <<EOF
fsync = off
full_page_writes = off
EOF
    fi
    as_owner tee "$dir/pg_hba.conf" >/dev/null <<EOF
host all         postgres 127.0.0.1/32 trust
host replication postgres 127.0.0.1/32 trust
host all         all      127.0.0.1/32 scram-sha-256
EOF
    ;;
  standby)
    dir="$2" port="$3" name="$4"
    bin="$(bin_dir)"
    mkdir "$dir"
    [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$dir"
    chmod 700 "$dir"
    as_owner "$bin/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres -D "$dir" -X stream -c fast --no-sync
    as_owner touch "$dir/standby.signal"
    echo "primary_conninfo = 'host=127.0.0.1 port=$port user=postgres application_name=$name'" |
      as_owner tee -a "$dir/postgresql.auto.conf" >/dev/null
    ;;
  promote)
    as_owner "$(bin_dir)/pg_ctl" promote -w -t 30 -D "$2" >/dev/null
    ;;
  run)
    dir="$2" port="$3"
    shift 3
    bin="$(bin_dir)"
    if [ "$(id -u)" -eq 0 ]; then
      exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$bin/postgres" -D "$dir" -p "$port" "$@"
    fi
    exec "$bin/postgres" -D "$dir" -p "$port" "$@"
    ;;
  *)
    echo "usage: $0 init DIR [durable] | run DIR PORT [ARG...] | standby DIR PORT NAME | promote DIR | bin" >&2
    exit 2
    ;;
esac
