#!/usr/bin/env bash
# scripts/db-up.sh: bring up the real database servers that Grant's integration
# tests use, idempotently:
#
#   PostgreSQL 15 primary   127.0.0.1:5432  (stock cluster "main")
#   PostgreSQL 15 replica   127.0.0.1:5433  (cluster "replica", streaming, slot replica_slot)
#   MariaDB primary         127.0.0.1:3306  (stock instance; server-id=1, binlog ROW)
#   MariaDB replica         127.0.0.1:3307  (own instance, server-id=2, read_only=1, GTID)
#
# Databases grant_test, grant_shard_1, grant_shard_2 exist on both primaries (and
# therefore on the replicas). MariaDB user `grant` (no password, no SUPER /
# READ_ONLY ADMIN) has ALL on grant_test.* and on `grant\_%`.*.
#
# Usage (as root, or a user with passwordless sudo):
#   eval "$(bash scripts/db-up.sh)"    # progress on stderr, export lines on stdout
#   bash scripts/db-up.sh --env        # only print the export lines, touch nothing
#
# Safe to re-run: on an already set-up machine it only checks (about 1 s).
# Things it repairs: stopped servers, a paused / delayed / stopped / broken
# PostgreSQL standby (rebuilt with pg_basebackup), a stopped MariaDB replica or
# replica SQL/IO thread, a MariaDB replica with a replication error or a missing
# data directory (rebuilt from a mariadb-dump of the primary).
#
# Tunables (environment): DB_UP_WAIT_SECS (default 60) bounds every wait loop.
set -euo pipefail

print_env() {
  cat <<'EOF'
export GRANT_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/grant_test
export GRANT_TEST_POSTGRES_REPLICA_URL=postgres://postgres@127.0.0.1:5433/grant_test
export GRANT_TEST_MARIADB_URL=mysql://grant@127.0.0.1:3306/grant_test
export GRANT_TEST_MARIADB_REPLICA_URL=mysql://grant@127.0.0.1:3307/grant_test
EOF
}

case "${1:-}" in
  --env) print_env; exit 0 ;;
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "db-up.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    exec sudo -n bash "$0" "$@"
  fi
  echo "[db-up] ERROR: must run as root (it starts servers and edits their configs)" >&2
  exit 1
fi

# ---------------------------------------------------------------- settings ---
PG_VER=15
PG_BIN=/usr/lib/postgresql/$PG_VER/bin
PG_PRIMARY_PORT=5432
PG_REPLICA_PORT=5433
PG_REPLICA_CLUSTER=replica
PG_REPLICA_CONF_DIR=/etc/postgresql/$PG_VER/$PG_REPLICA_CLUSTER
PG_REPLICA_DATA=/var/lib/postgresql/$PG_VER/$PG_REPLICA_CLUSTER
PG_REPLICA_LOG=/var/log/postgresql/postgresql-$PG_VER-$PG_REPLICA_CLUSTER.log
PG_SLOT=replica_slot
PG_REPL_ROLE=replicator

MY_MAIN_CNF=/etc/mysql/my.cnf
MY_CONF_D=/etc/mysql/mariadb.conf.d
MY_PRIMARY_CNF=$MY_CONF_D/60-grant-primary.cnf
MY_PRIMARY_PID=/run/mysqld/mysqld.pid
MY_PRIMARY_LOG=/var/log/mysql/error.log
MY_PRIMARY_PORT=3306
MY_REPLICA_CNF=/etc/mysql/grant-replica.cnf     # NOT in mariadb.conf.d (the primary would read it)
MY_REPLICA_DATA=/var/lib/mysql-replica
MY_REPLICA_SOCK=/run/mysqld/mysqld-replica.sock
MY_REPLICA_PID=/run/mysqld/mysqld-replica.pid
MY_REPLICA_LOG=/var/log/mysql/replica-error.log
MY_REPLICA_PORT=3307
MY_REPL_USER=replicator

DATABASES=(grant_test grant_shard_1 grant_shard_2)
WAIT_SECS=${DB_UP_WAIT_SECS:-60}
VERIFY_SECS=20            # replication catch-up allowed before a replica is rebuilt once
MARK=_grant_db_up_check   # prefix of the scratch tables used to verify replication

# Keep the client tools deterministic whatever the caller's environment says.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE PGOPTIONS PGPASSWORD PGSSLMODE \
      MYSQL_HOST MYSQL_TCP_PORT MYSQL_UNIX_PORT MYSQL_PWD 2>/dev/null || true
export PGCONNECT_TIMEOUT=5 PGAPPNAME=grant-db-up
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH

# ----------------------------------------------------------------- helpers ---
TMP=$(mktemp -d /tmp/grant-db-up.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
set -E   # never die silently: name the command that failed unexpectedly
trap 'printf "[db-up] ERROR: unexpected failure (rc=%s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

log()  { printf '[db-up] %s\n' "$*" >&2; }
note() { printf '[db-up]   .. %s\n' "$*" >&2; }   # only printed when something is (re)done
die()  { printf '[db-up] ERROR: %s\n' "$*" >&2; exit 1; }
now()  { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }     # milliseconds
T0=$(now)
secs_since() { local ms=$(( $(now) - $1 )); printf '%d.%01ds' $((ms / 1000)) $(((ms % 1000) / 100)); }

# wait_until TIMEOUT_SECS CMD...: poll CMD every 0.1 s until it succeeds.
wait_until() {
  local deadline=$(( $(now) + $1 * 1000 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(now)" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# run_quiet LOGNAME CMD...: run CMD with its output in a temp log, shown only on failure.
run_quiet() {
  local name=$1; shift
  if ! "$@" </dev/null >"$TMP/$name.log" 2>&1 9>&-; then   # 9>&-: daemons must not inherit the lock
    sed 's/^/[db-up]      | /' "$TMP/$name.log" | tail -n 25 >&2
    return 1
  fi
}

as_postgres() { (cd / && runuser -u postgres -- "$@"); }

for tool in pg_ctlcluster pg_createcluster psql "$PG_BIN/pg_ctl" "$PG_BIN/pg_basebackup" \
            mariadb mariadb-admin mariadb-dump mariadb-install-db mariadbd runuser flock setsid; do
  command -v "$tool" >/dev/null 2>&1 || die "required tool not found: $tool (PostgreSQL $PG_VER / MariaDB packages installed?)"
done

# One run at a time (test harnesses may call this in parallel).
exec 9>/run/lock/grant-db-up.lock
flock -w "$((WAIT_SECS * 5))" 9 || die "another db-up.sh run holds /run/lock/grant-db-up.lock"

# ---------------------------------------------------------- postgres utils ---
pg_q() {   # pg_q PORT DB [psql args...]  (superuser postgres over TCP, trust auth)
  local port=$1 db=$2; shift 2
  psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"
}
pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$1" -d postgres -U postgres; }

# The replication trust lines that must come first in every pg_hba.conf we manage.
HBA_TAG='# grant-db-up'
hba_block() {
  printf 'local   replication     all                     trust   %s\n' "$HBA_TAG"
  printf 'host    replication     all     127.0.0.1/32    trust   %s\n' "$HBA_TAG"
  printf 'host    replication     all     ::1/128         trust   %s\n' "$HBA_TAG"
}
# ensure_hba_top FILE: returns 0 if the file was changed, 1 if it was already right.
ensure_hba_top() {
  local f=$1
  if [ "$(grep -Ev '^[[:space:]]*(#|$)' "$f" | head -n 3)" = "$(hba_block)" ]; then
    return 1
  fi
  { hba_block; grep -vF "$HBA_TAG" "$f" || true; } >"$TMP/hba.new"
  cat "$TMP/hba.new" >"$f"    # in place: keeps owner and mode
  return 0
}

# ------------------------------------------------------ postgres primary ---
ensure_pg_primary() {
  local t0 rc=0 acts=() hba w senders slots
  t0=$(now)
  pg_ctlcluster "$PG_VER" main status >/dev/null 2>&1 || rc=$?
  case $rc in
    0) ;;
    3) install -d -o postgres -g postgres -m 2775 /var/run/postgresql
       note "postgres primary: starting cluster $PG_VER/main"
       run_quiet pg-main-start pg_ctlcluster --skip-systemctl-redirect "$PG_VER" main start \
         || die "could not start PostgreSQL $PG_VER/main (see /var/log/postgresql/postgresql-$PG_VER-main.log)"
       acts+=(started) ;;
    *) die "PostgreSQL cluster $PG_VER/main not found or unusable (pg_ctlcluster status rc=$rc)" ;;
  esac
  wait_until "$WAIT_SECS" pg_ready "$PG_PRIMARY_PORT" \
    || die "PostgreSQL primary on 127.0.0.1:$PG_PRIMARY_PORT not accepting connections after ${WAIT_SECS}s"
  pg_q "$PG_PRIMARY_PORT" postgres -c 'select 1' >/dev/null \
    || die "cannot connect as postgres to 127.0.0.1:$PG_PRIMARY_PORT without a password (pg_hba.conf must trust 127.0.0.1)"

  # Streaming replication needs these (stock defaults are fine; repair if someone changed them).
  IFS='|' read -r w senders slots < <(pg_q "$PG_PRIMARY_PORT" postgres -c \
    "select current_setting('wal_level'), current_setting('max_wal_senders'), current_setting('max_replication_slots')")
  if [ "$w" = minimal ] || [ "$senders" -lt 2 ] || [ "$slots" -lt 1 ]; then
    note "postgres primary: enabling wal_level=replica / wal senders / slots (restart)"
    pg_q "$PG_PRIMARY_PORT" postgres -c "alter system set wal_level = 'replica'" \
      -c "alter system set max_wal_senders = 10" -c "alter system set max_replication_slots = 10"
    run_quiet pg-main-restart pg_ctlcluster --skip-systemctl-redirect "$PG_VER" main restart \
      || die "could not restart PostgreSQL $PG_VER/main"
    wait_until "$WAIT_SECS" pg_ready "$PG_PRIMARY_PORT" || die "PostgreSQL primary did not come back after restart"
    acts+=(restarted)
  fi

  hba=$(pg_q "$PG_PRIMARY_PORT" postgres -c 'show hba_file')
  if ensure_hba_top "$hba"; then
    [ "$(pg_q "$PG_PRIMARY_PORT" postgres -c 'select count(*) from pg_hba_file_rules where error is not null')" = 0 ] \
      || die "$hba has errors after adding replication lines"
    pg_q "$PG_PRIMARY_PORT" postgres -c 'select pg_reload_conf()' >/dev/null
    acts+=("pg_hba replication lines")
  fi

  local created
  created=$(pg_q "$PG_PRIMARY_PORT" postgres <<SQL
select format('create database %I owner postgres', d)
  from unnest(array['${DATABASES[0]}','${DATABASES[1]}','${DATABASES[2]}']) as d
 where not exists (select 1 from pg_database where datname = d) \\gexec
select count(*) from pg_database where datname in ('${DATABASES[0]}','${DATABASES[1]}','${DATABASES[2]}');
do \$\$ begin
  if not exists (select 1 from pg_roles where rolname = '$PG_REPL_ROLE') then
    create role $PG_REPL_ROLE with replication login;
  elsif not exists (select 1 from pg_roles where rolname = '$PG_REPL_ROLE' and rolreplication and rolcanlogin) then
    alter role $PG_REPL_ROLE with replication login;
  end if;
end \$\$;
SQL
  ) || die "could not create databases / role on the PostgreSQL primary"
  [ "$created" = "${#DATABASES[@]}" ] || die "expected ${#DATABASES[@]} grant databases on the primary, found $created"
  pg_q "$PG_PRIMARY_PORT" grant_test -c 'select 1' >/dev/null || die "cannot connect to grant_test on the primary"

  log "postgres primary  127.0.0.1:$PG_PRIMARY_PORT  ok  (${DATABASES[*]}) ${acts[*]:+[${acts[*]}] }$(secs_since "$t0")"
}

# ------------------------------------------------------ postgres replica ---
pg_replica_running() {
  [ -f "$PG_REPLICA_DATA/PG_VERSION" ] && as_postgres "$PG_BIN/pg_ctl" status -D "$PG_REPLICA_DATA" >/dev/null 2>&1
}

pg_replica_start() {
  install -d -o postgres -g postgres -m 2775 /var/run/postgresql
  [ -e "$PG_REPLICA_LOG" ] || install -o postgres -g adm -m 640 /dev/null "$PG_REPLICA_LOG"
  run_quiet pg-replica-start as_postgres "$PG_BIN/pg_ctl" start -w -t "$WAIT_SECS" -D "$PG_REPLICA_DATA" \
    -l "$PG_REPLICA_LOG" -o "-c config_file=$PG_REPLICA_CONF_DIR/postgresql.conf" || return 1
  wait_until "$WAIT_SECS" pg_ready "$PG_REPLICA_PORT"
}

pg_replica_stop() {
  if pg_replica_running; then
    run_quiet pg-replica-stop as_postgres "$PG_BIN/pg_ctl" stop -w -t "$WAIT_SECS" -m fast -D "$PG_REPLICA_DATA" \
      || die "could not stop the PostgreSQL replica"
  fi
}

pg_slot_inactive() {
  [ "$(pg_q "$PG_PRIMARY_PORT" postgres -c \
    "select count(*) from pg_replication_slots where slot_name = '$PG_SLOT' and active")" = 0 ]
}

pg_drop_slot() {
  local active
  active=$(pg_q "$PG_PRIMARY_PORT" postgres -c "select active from pg_replication_slots where slot_name = '$PG_SLOT'")
  [ -n "$active" ] || return 0
  if [ "$active" = t ]; then
    # Our standby is stopped, so give its walsender a moment to go away, then insist.
    wait_until 10 pg_slot_inactive \
      || pg_q "$PG_PRIMARY_PORT" postgres -c \
        "select pg_terminate_backend(active_pid) from pg_replication_slots where slot_name = '$PG_SLOT' and active" >/dev/null
    wait_until 10 pg_slot_inactive || die "replication slot $PG_SLOT is still in use on the primary"
  fi
  pg_q "$PG_PRIMARY_PORT" postgres -c "select pg_drop_replication_slot('$PG_SLOT')" >/dev/null
}

pg_replica_build() {   # (re)create the standby from scratch
  note "postgres replica: building from a base backup of 127.0.0.1:$PG_PRIMARY_PORT ($1)"
  case "$PG_REPLICA_DATA" in */main|/|"") die "refusing to touch $PG_REPLICA_DATA" ;; esac
  pg_replica_stop
  pg_drop_slot
  if [ ! -f "$PG_REPLICA_CONF_DIR/postgresql.conf" ]; then
    rm -rf "$PG_REPLICA_CONF_DIR" "$PG_REPLICA_DATA"
    run_quiet pg-createcluster pg_createcluster "$PG_VER" "$PG_REPLICA_CLUSTER" -p "$PG_REPLICA_PORT" \
      || die "pg_createcluster $PG_VER $PG_REPLICA_CLUSTER failed"
  fi
  pg_replica_config || true
  install -d -o postgres -g postgres -m 700 "$PG_REPLICA_DATA"
  find "$PG_REPLICA_DATA" -mindepth 1 -delete
  run_quiet pg-basebackup as_postgres "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PRIMARY_PORT" -U "$PG_REPL_ROLE" \
      -D "$PG_REPLICA_DATA" -R -X stream -C -S "$PG_SLOT" -c fast \
    || die "pg_basebackup from 127.0.0.1:$PG_PRIMARY_PORT failed"
  pg_replica_start || die "the freshly built PostgreSQL replica did not start (see $PG_REPLICA_LOG)"
}

# Port 5433 and the same pg_hba.conf as the primary (trust + replication lines first).
# Returns 0 if the running replica needs a reload.
pg_replica_config() {
  local changed=1 port primary_hba
  port=$(pg_conftool -s "$PG_VER" "$PG_REPLICA_CLUSTER" show port 2>/dev/null || true)
  if [ "$port" != "$PG_REPLICA_PORT" ]; then
    pg_conftool "$PG_VER" "$PG_REPLICA_CLUSTER" set port "$PG_REPLICA_PORT"
    pg_replica_stop   # a port change needs a restart
  fi
  primary_hba=$(pg_q "$PG_PRIMARY_PORT" postgres -c 'show hba_file')
  if ! cmp -s "$primary_hba" "$PG_REPLICA_CONF_DIR/pg_hba.conf"; then
    install -o postgres -g postgres -m 640 "$primary_hba" "$PG_REPLICA_CONF_DIR/pg_hba.conf"
    changed=0
  fi
  return $changed
}

pg_no_apply_delay() {
  [ "$(pg_q "$PG_REPLICA_PORT" postgres -c "select setting from pg_settings where name = 'recovery_min_apply_delay'")" = 0 ]
}

# Undo what tests may leave behind on the standby: paused replay, recovery_min_apply_delay.
pg_replica_unpause() {
  local paused delay src
  IFS='|' read -r paused delay src < <(pg_q "$PG_REPLICA_PORT" postgres -c \
    "select pg_is_wal_replay_paused(), setting, coalesce(sourcefile, '') from pg_settings where name = 'recovery_min_apply_delay'")
  if [ "$delay" != 0 ]; then
    note "postgres replica: clearing recovery_min_apply_delay (was ${delay}ms)"
    pg_q "$PG_REPLICA_PORT" postgres -c 'alter system reset recovery_min_apply_delay' >/dev/null
    if [ -n "$src" ] && [ "${src##*/}" != postgresql.auto.conf ] && [ -f "$src" ]; then
      sed -i -E 's/^([[:space:]]*recovery_min_apply_delay\b)/#\1/' "$src"
    fi
    pg_q "$PG_REPLICA_PORT" postgres -c 'select pg_reload_conf()' >/dev/null
    wait_until 10 pg_no_apply_delay \
      || die "could not clear recovery_min_apply_delay on the replica"
  fi
  if [ "$paused" = t ]; then
    note "postgres replica: resuming paused WAL replay"
    pg_q "$PG_REPLICA_PORT" postgres -c 'select pg_wal_replay_resume()' >/dev/null
  fi
}

pg_marker_visible() { [ "$(pg_q "$PG_REPLICA_PORT" grant_test -c "select to_regclass('public.$1') is not null")" = t ]; }

# Create a scratch table on the primary and wait for it on the standby.
pg_verify_replication() {
  local name=${MARK}_$$ ok=0
  pg_q "$PG_PRIMARY_PORT" grant_test >/dev/null <<SQL
do \$\$ declare r record; begin
  for r in select tablename from pg_tables where schemaname = 'public' and tablename like '\\_grant\\_db\\_up\\_check\\_%' loop
    execute format('drop table if exists public.%I', r.tablename);
  end loop;
end \$\$;
create table public.$name (id int);
SQL
  wait_until "$1" pg_marker_visible "$name" || ok=1
  pg_q "$PG_PRIMARY_PORT" grant_test -c "drop table if exists public.$name" >/dev/null
  return $ok
}

pg_replica_healthy() {   # running, in recovery, and its slot exists on the primary
  [ "$(pg_q "$PG_REPLICA_PORT" postgres -c 'select pg_is_in_recovery()' 2>/dev/null)" = t ] || return 1
  [ "$(pg_q "$PG_PRIMARY_PORT" postgres -c "select count(*) from pg_replication_slots where slot_name = '$PG_SLOT'")" = 1 ]
}

ensure_pg_replica() {
  local t0 acts=() reason=""
  t0=$(now)
  if [ ! -f "$PG_REPLICA_CONF_DIR/postgresql.conf" ] || [ ! -f "$PG_REPLICA_DATA/PG_VERSION" ]; then
    reason="no replica cluster"
  else
    if pg_replica_config && pg_replica_running; then
      pg_q "$PG_REPLICA_PORT" postgres -c 'select pg_reload_conf()' >/dev/null 2>&1 || true
    fi
    if ! pg_replica_running; then
      if [ ! -f "$PG_REPLICA_DATA/standby.signal" ]; then
        reason="data directory is not a standby"
      elif pg_replica_start; then
        acts+=(started)
      elif [ -n "$(ss -Hltn "sport = :$PG_REPLICA_PORT" 2>/dev/null)" ]; then
        die "PostgreSQL replica cannot start: 127.0.0.1:$PG_REPLICA_PORT is in use by another process"
      else
        reason="it failed to start"
      fi
    fi
    if [ -z "$reason" ] && ! pg_replica_healthy; then
      reason="not in recovery or slot $PG_SLOT missing on the primary"
    fi
  fi
  if [ -n "$reason" ]; then
    pg_replica_build "$reason"; acts+=(built)
  fi
  pg_replica_unpause
  local v0; v0=$(now)
  if ! pg_verify_replication "$VERIFY_SECS"; then
    pg_replica_build "changes from the primary did not arrive within ${VERIFY_SECS}s"; acts+=(rebuilt)
    pg_replica_unpause
    v0=$(now)
    pg_verify_replication "$WAIT_SECS" \
      || die "PostgreSQL replica on :$PG_REPLICA_PORT does not receive changes from :$PG_PRIMARY_PORT (see $PG_REPLICA_LOG)"
  fi
  pg_replica_healthy || die "PostgreSQL replica on :$PG_REPLICA_PORT is not in recovery"
  log "postgres replica  127.0.0.1:$PG_REPLICA_PORT  ok  (in recovery, slot $PG_SLOT, change seen in $(secs_since "$v0")) ${acts[*]:+[${acts[*]}] }$(secs_since "$t0")"
}

# ----------------------------------------------------------- mariadb utils ---
my_p() { mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -P "$MY_PRIMARY_PORT" -u root --connect-timeout=5 -N -B "$@"; }
my_r() { mariadb --no-defaults --protocol=socket --socket="$MY_REPLICA_SOCK" -u root --connect-timeout=5 -N -B "$@"; }
my_p_alive() { mariadb-admin --no-defaults --protocol=tcp -h 127.0.0.1 -P "$MY_PRIMARY_PORT" -u root --connect-timeout=2 ping >/dev/null 2>&1; }
my_r_alive() { mariadb-admin --no-defaults --protocol=socket --socket="$MY_REPLICA_SOCK" -u root --connect-timeout=2 ping >/dev/null 2>&1; }
my_p_down() { ! my_p_alive; }
my_r_down() { ! my_r_alive && ! pid_alive "$MY_REPLICA_PID"; }

pid_alive() {   # pid_alive PIDFILE: the pid in it is a live mariadbd
  local pid
  [ -s "$1" ] && pid=$(cat "$1" 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
    && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = /usr/sbin/mariadbd ]
}

# start_mariadbd LABEL PIDFILE ALIVE_FN ERRLOG [mariadbd args...]
start_mariadbd() {
  local label=$1 pidfile=$2 alive=$3 errlog=$4 pid deadline; shift 4
  install -d -o mysql -g mysql -m 755 /run/mysqld /var/log/mysql
  if pid_alive "$pidfile"; then
    pid=$(cat "$pidfile")            # already starting (or hung): just wait for it
  else
    setsid /usr/sbin/mariadbd "$@" </dev/null >/dev/null 2>&1 9>&- &
    pid=$!
  fi
  deadline=$(( $(now) + WAIT_SECS * 1000 ))
  until "$alive"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 15 "$errlog" 2>/dev/null | sed 's/^/[db-up]      | /' >&2
      die "$label: mariadbd exited during startup (see $errlog)"
    fi
    [ "$(now)" -lt "$deadline" ] || die "$label: not accepting connections after ${WAIT_SECS}s (see $errlog)"
    sleep 0.1
  done
}

# ------------------------------------------------------- mariadb primary ---
write_if_changed() {   # write_if_changed FILE (content on stdin); returns 0 if changed
  cat >"$TMP/new.cnf"
  if cmp -s "$TMP/new.cnf" "$1"; then return 1; fi
  install -m 644 "$TMP/new.cnf" "$1"
  return 0
}

ensure_mariadb_primary() {
  local t0 acts=() sid lb fmt
  t0=$(now)
  install -d -o mysql -g mysql -m 755 /run/mysqld /var/log/mysql
  install -d -m 755 "$MY_CONF_D"
  write_if_changed "$MY_PRIMARY_CNF" <<'EOF' && acts+=("wrote ${MY_PRIMARY_CNF##*/}") || true
# Managed by scripts/db-up.sh (Grant test suite): binary log so 127.0.0.1:3307 can replicate.
[mysqld]
server-id                  = 1
log-bin                    = mysql-bin
binlog_format              = ROW
binlog_expire_logs_seconds = 259200
EOF
  # The stock /etc/mysql/my.cnf on these machines has no !includedir: add it once.
  if ! grep -Eq "^[[:space:]]*!includedir[[:space:]]+$MY_CONF_D/?[[:space:]]*$" "$MY_MAIN_CNF"; then
    printf '\n# added by scripts/db-up.sh (Grant test suite)\n!includedir %s/\n' "$MY_CONF_D" >>"$MY_MAIN_CNF"
    acts+=("!includedir in my.cnf")
  fi
  mariadbd --print-defaults 2>/dev/null | grep -q -- '--log-bin=mysql-bin' \
    || die "mariadbd does not read $MY_PRIMARY_CNF (check $MY_MAIN_CNF)"

  if ! my_p_alive; then
    note "mariadb primary: starting"
    start_mariadbd "mariadb primary" "$MY_PRIMARY_PID" my_p_alive "$MY_PRIMARY_LOG"
    acts+=(started)
  fi
  IFS=$'\t' read -r sid lb fmt < <(my_p -e 'select @@server_id, @@log_bin, @@binlog_format') \
    || die "cannot log in as root@127.0.0.1 (empty password) on :$MY_PRIMARY_PORT"
  if [ "$lb" = 1 ] && { [ "$sid" != 1 ] || [ "$fmt" != ROW ]; }; then
    # Both are dynamic (a test may have changed them at runtime): no restart needed.
    my_p -e 'SET GLOBAL server_id = 1; SET GLOBAL binlog_format = ROW'
    acts+=("reset server_id=$sid binlog_format=$fmt")
    sid=1 fmt=ROW
  fi
  if [ "$sid" != 1 ] || [ "$lb" != 1 ] || [ "$fmt" != ROW ]; then
    note "mariadb primary: restarting to enable server-id=1, log-bin, binlog_format=ROW"
    mariadb-admin --no-defaults --protocol=tcp -h 127.0.0.1 -P "$MY_PRIMARY_PORT" -u root shutdown >/dev/null 2>&1 || true
    wait_until "$WAIT_SECS" my_p_down || die "mariadb primary did not shut down"
    wait_until "$WAIT_SECS" eval '! pid_alive "$MY_PRIMARY_PID"' || die "mariadb primary process did not exit"
    start_mariadbd "mariadb primary" "$MY_PRIMARY_PID" my_p_alive "$MY_PRIMARY_LOG"
    IFS=$'\t' read -r sid lb fmt < <(my_p -e 'select @@server_id, @@log_bin, @@binlog_format')
    [ "$sid" = 1 ] && [ "$lb" = 1 ] && [ "$fmt" = ROW ] \
      || die "mariadb primary still has server_id=$sid log_bin=$lb binlog_format=$fmt after restart"
    acts+=(restarted)
  fi

  # Databases and users (all idempotent; these statements replicate to 3307 as well).
  my_p <<SQL || die "could not create databases / users on the mariadb primary"
CREATE DATABASE IF NOT EXISTS \`${DATABASES[0]}\`;
CREATE DATABASE IF NOT EXISTS \`${DATABASES[1]}\`;
CREATE DATABASE IF NOT EXISTS \`${DATABASES[2]}\`;
$(grant_user_sql)
CREATE USER IF NOT EXISTS '$MY_REPL_USER'@'127.0.0.1' IDENTIFIED BY '';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '$MY_REPL_USER'@'127.0.0.1';
SQL
  mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -P "$MY_PRIMARY_PORT" -u grant --connect-timeout=5 \
      -N -B grant_test -e 'select 1' >/dev/null \
    || die "user grant cannot log in to grant_test on :$MY_PRIMARY_PORT"
  log "mariadb primary   127.0.0.1:$MY_PRIMARY_PORT  ok  (server-id=1, log-bin, ROW; user grant) ${acts[*]:+[${acts[*]}] }$(secs_since "$t0")"
}

grant_user_sql() {   # the application user: no SUPER / READ_ONLY ADMIN, so read_only=1 applies to it
  local h
  for h in 127.0.0.1 localhost; do
    cat <<SQL
CREATE USER IF NOT EXISTS 'grant'@'$h' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON \`grant_test\`.* TO 'grant'@'$h';
GRANT ALL PRIVILEGES ON \`grant\\_%\`.* TO 'grant'@'$h';
SQL
  done
}

# ------------------------------------------------------- mariadb replica ---
replica_cnf() {
  cat <<EOF
# Managed by scripts/db-up.sh (Grant test suite): MariaDB replica of 127.0.0.1:$MY_PRIMARY_PORT.
# Start: mariadbd --defaults-file=$MY_REPLICA_CNF   (must be the first argument)
[mysqld]
user                    = mysql
basedir                 = /usr
datadir                 = $MY_REPLICA_DATA
socket                  = $MY_REPLICA_SOCK
pid-file                = $MY_REPLICA_PID
port                    = $MY_REPLICA_PORT
bind-address            = 127.0.0.1
skip-name-resolve
log-error               = $MY_REPLICA_LOG
server-id               = 2
read_only               = 1
relay-log               = replica-relay-bin
character-set-server    = utf8mb4
collation-server        = utf8mb4_general_ci
innodb_buffer_pool_size = 128M
innodb_log_file_size    = 48M
EOF
}

my_replica_start() {
  start_mariadbd "mariadb replica" "$MY_REPLICA_PID" my_r_alive "$MY_REPLICA_LOG" --defaults-file="$MY_REPLICA_CNF"
}

my_replica_stop() {
  local pid
  if my_r_alive; then
    mariadb-admin --no-defaults --protocol=socket --socket="$MY_REPLICA_SOCK" -u root shutdown >/dev/null 2>&1 || true
  fi
  if pid_alive "$MY_REPLICA_PID"; then
    wait_until 20 eval '! pid_alive "$MY_REPLICA_PID"' || { pid=$(cat "$MY_REPLICA_PID"); kill "$pid" 2>/dev/null || true; }
  fi
  # A replica whose pid file vanished (e.g. its datadir was deleted): find it by its defaults file.
  for pid in $(pgrep -f -x "/usr/sbin/mariadbd --defaults-file=$MY_REPLICA_CNF.*" || true); do
    kill "$pid" 2>/dev/null || true
  done
  wait_until "$WAIT_SECS" my_r_down || die "the mariadb replica did not stop"
  wait_until "$WAIT_SECS" eval '[ -z "$(pgrep -f -x "/usr/sbin/mariadbd --defaults-file=$MY_REPLICA_CNF.*")" ]' \
    || die "the mariadb replica process did not exit"
}

my_replica_build() {   # fresh datadir, seeded from a consistent dump of the primary, then replicate
  local dbs
  note "mariadb replica: building a fresh instance in $MY_REPLICA_DATA ($1)"
  case "$MY_REPLICA_DATA" in /var/lib/mysql|/var/lib/mysql/|/|"") die "refusing to touch $MY_REPLICA_DATA" ;; esac
  my_replica_stop
  rm -rf "$MY_REPLICA_DATA"
  install -d -o mysql -g mysql -m 750 "$MY_REPLICA_DATA"
  run_quiet mariadb-install-db mariadb-install-db --defaults-file="$MY_REPLICA_CNF" --user=mysql \
      --skip-test-db --auth-root-authentication-method=socket \
    || die "mariadb-install-db for $MY_REPLICA_DATA failed"
  my_replica_start

  # Every non-system database of the primary, so later DDL from tests (CREATE / DROP of
  # grant_* databases) replays cleanly.
  dbs=$(my_p -e "select schema_name from information_schema.schemata
                  where schema_name not in ('mysql','information_schema','performance_schema','sys')")
  # shellcheck disable=SC2086
  mariadb-dump --no-defaults --protocol=tcp -h 127.0.0.1 -P "$MY_PRIMARY_PORT" -u root \
      --single-transaction --master-data=1 --gtid --routines --events --triggers --databases $dbs \
      >"$TMP/seed.sql" 2>"$TMP/dump.err" \
    || { cat "$TMP/dump.err" >&2; die "mariadb-dump of the primary failed"; }
  grep -q "gtid_slave_pos" "$TMP/seed.sql" || die "the dump carries no GTID position (is log-bin on?)"
  my_r <"$TMP/seed.sql" || die "loading the primary's dump into the replica failed"
  my_r <<SQL || die "could not configure replication on the replica"
$(grant_user_sql)
FLUSH PRIVILEGES;
STOP SLAVE;
CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$MY_PRIMARY_PORT, MASTER_USER='$MY_REPL_USER',
  MASTER_PASSWORD='', MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos;
START SLAVE;
SQL
}

# Prints "IO|SQL|LAST_IO_ERRNO|LAST_SQL_ERRNO|HOST|PORT|USING_GTID", or nothing if unconfigured.
my_slave_status() {
  # (no -N here: with -N the vertical format drops the field names)
  mariadb --no-defaults --protocol=socket --socket="$MY_REPLICA_SOCK" -u root --connect-timeout=5 -E \
      -e 'SHOW SLAVE STATUS' | awk -F': ' -v OFS='|' '
    { gsub(/^[ \t]+/, "", $1) ; v[$1] = $2 }
    END { if ("Slave_IO_Running" in v)
            print v["Slave_IO_Running"], v["Slave_SQL_Running"], v["Last_IO_Errno"], v["Last_SQL_Errno"],
                  v["Master_Host"], v["Master_Port"], v["Using_Gtid"] }'
}

my_marker_visible() { [ "$(my_r -e "select count(*) from grant_test.$1" 2>/dev/null)" = 1 ]; }

# Insert on the primary, wait for it on the replica, check `grant` cannot write there.
my_verify_replication() {
  local name=${MARK}_$$ ok=0 out stale
  stale=$(my_p -e "select table_name from information_schema.tables
                    where table_schema = 'grant_test' and table_name like '\\_grant\\_db\\_up\\_check\\_%'")
  for t in $stale; do my_p -e "DROP TABLE IF EXISTS grant_test.\`$t\`"; done
  my_p -e "CREATE TABLE grant_test.$name (id INT PRIMARY KEY); INSERT INTO grant_test.$name VALUES (1)"
  if ! wait_until "$1" my_marker_visible "$name"; then
    ok=1
  else
    out=$(mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -P "$MY_REPLICA_PORT" -u grant --connect-timeout=5 \
            -N -B grant_test -e "INSERT INTO $name VALUES (2)" 2>&1) && ok=2
    [ "$ok" = 2 ] || grep -Eq 'ERROR 1290|read-only|read_only' <<<"$out" || ok=3
  fi
  my_p -e "DROP TABLE IF EXISTS grant_test.$name"
  case $ok in
    2) die "user grant could INSERT on the read-only replica :$MY_REPLICA_PORT (has it SUPER / READ_ONLY ADMIN?)" ;;
    3) die "unexpected error for user grant on :$MY_REPLICA_PORT (wanted a read-only error): $out" ;;
  esac
  return $ok
}

ensure_mariadb_replica() {
  local t0 acts=() reason="" io sql ioerr sqlerr host port gtid
  t0=$(now)
  install -d -o mysql -g mysql -m 755 /run/mysqld /var/log/mysql
  local cnf_changed=1
  replica_cnf | write_if_changed "$MY_REPLICA_CNF" && cnf_changed=0

  if [ ! -d "$MY_REPLICA_DATA/mysql" ]; then
    reason="no data directory"
  else
    if [ "$cnf_changed" = 0 ] && my_r_alive; then
      note "mariadb replica: config changed, restarting"
      my_replica_stop; my_replica_start; acts+=(restarted)
    elif ! my_r_alive; then
      my_replica_start; acts+=(started)
    fi
    IFS='|' read -r io sql ioerr sqlerr host port gtid < <(my_slave_status) || true
    if [ -z "${io:-}" ]; then
      reason="replication not configured"
    elif [ "$host" != 127.0.0.1 ] || [ "$port" != "$MY_PRIMARY_PORT" ] || [ "$gtid" != Slave_Pos ]; then
      reason="replicates from $host:$port (gtid=$gtid)"
    elif [ "$sqlerr" != 0 ]; then
      reason="SQL thread error $sqlerr"
    elif [ "$io" != Yes ] && [ "$ioerr" = 1236 ]; then
      reason="primary cannot serve the needed binlog (error 1236)"
    else
      [ "$sql" = Yes ] || { my_r -e 'START SLAVE SQL_THREAD'; acts+=("started SQL thread"); }
      [ "$io" = No ]   && { my_r -e 'START SLAVE IO_THREAD';  acts+=("started IO thread"); }
      if ! wait_until 10 eval '[ "$(my_slave_status | cut -d"|" -f1-2)" = "Yes|Yes" ]'; then
        reason="slave threads not running: $(my_slave_status)"
      fi
    fi
  fi
  if [ -n "$reason" ]; then
    my_replica_build "$reason"; acts+=(built)
  fi
  if [ "$(my_r -e 'select @@global.read_only')" != 1 ]; then   # a test may have turned it off
    my_r -e 'SET GLOBAL read_only = 1'; acts+=("read_only=1")
  fi
  local v0; v0=$(now)
  if ! my_verify_replication "$VERIFY_SECS"; then
    my_replica_build "changes from the primary did not arrive within ${VERIFY_SECS}s: $(my_slave_status)"; acts+=(rebuilt)
    v0=$(now)
    my_verify_replication "$WAIT_SECS" \
      || die "mariadb replica on :$MY_REPLICA_PORT does not receive changes from :$MY_PRIMARY_PORT ($(my_slave_status); see $MY_REPLICA_LOG)"
  fi
  log "mariadb replica   127.0.0.1:$MY_REPLICA_PORT  ok  (IO+SQL running, read_only for grant, change seen in $(secs_since "$v0")) ${acts[*]:+[${acts[*]}] }$(secs_since "$t0")"
}

# ------------------------------------------------------------------- main ---
ensure_pg_primary
ensure_pg_replica
ensure_mariadb_primary
ensure_mariadb_replica
log "all databases up in $(secs_since "$T0")"
print_env
