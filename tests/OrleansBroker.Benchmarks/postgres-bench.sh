#!/usr/bin/env bash
# PostgreSQL beside SQLite, in one sitting: a PostgreSQL server of its own (Debian's postgresql, initdb in a temporary
# folder, default durability: fsync and synchronous_commit on) and two Release silo-hosts, one on each store; the runs of
# each scenario alternate between them, ROUNDS times (default 3). One JSON line per run appended to OUT, tagged with "run"
# (scenario) and "store".
# Usage: tests/OrleansBroker.Benchmarks/postgres-bench.sh [OUT] [ROUNDS]   (from the repository root; about 5 minutes)
set -euo pipefail
OUT=${1:-postgres-bench.jsonl}
ROUNDS=${2:-3}
WORK=$(mktemp -d)
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PG_PORT=${PG_PORT:-25432}
AS_PG=(); [ "$(id -u)" = 0 ] && AS_PG=(setpriv --reuid=postgres --regid=postgres --init-groups) && chown postgres:postgres "$WORK"
CS="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=bench"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  [ -f "$WORK/pg/PG_VERSION" ] && "${AS_PG[@]}" "$PG_BIN/pg_ctl" stop -D "$WORK/pg" -m fast -w > /dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"${AS_PG[@]}" "$PG_BIN/initdb" -D "$WORK/pg" -U postgres --auth=trust -E UTF8 > "$WORK/initdb.log"
"${AS_PG[@]}" "$PG_BIN/pg_ctl" start -D "$WORK/pg" -l "$WORK/pg.log" -w -o "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1" > /dev/null

dotnet build -c Release -v q -nologo > /dev/null
start_silo() { # start_silo NAME SILO_PORT GATEWAY_PORT args...
  local name=$1 silo=$2 gateway=$3; shift 3
  dotnet silo-host/bin/Release/net10.0/obroker-silo.dll --silo-port "$silo" --gateway-port "$gateway" --http-port 0 --mqtt-port 0 --amqp-port 0 "$@" \
    > "$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 120); do grep -q "Application started" "$WORK/$name.log" && return; sleep 0.5; done
  echo "silo $name did not start; see $WORK/$name.log" >&2; cat "$WORK/$name.log" >&2; exit 1
}
start_silo sqlite 21111 31000 --data-dir "$WORK/sqlite"
start_silo postgres 21112 31001 --data-dir "$WORK/pgsilo" --storage postgres --postgres-connection-string "$CS"

run() { # run STORE GATEWAY NAME args...
  local store=$1 gateway=$2 name=$3; shift 3
  dotnet src/OrleansBroker.Cli/bin/Release/net10.0/obroker.dll --gateway "localhost:$gateway" bench "$@" 2>>"$WORK/bench.err" \
    | sed "s/^{/{\"run\":\"$name\",\"store\":\"$store\",/" >> "$OUT"
}
for gateway in 31000 31001; do # warm-up, not reported
  dotnet src/OrleansBroker.Cli/bin/Release/net10.0/obroker.dll --gateway "localhost:$gateway" bench queue --messages 50000 > /dev/null 2>&1
done
for _ in $(seq 1 "$ROUNDS"); do
  run sqlite 31000 p1c1 queue --messages 200000
  run postgres 31001 p1c1 queue --messages 200000
  run sqlite 31000 unbatched queue --messages 50000 --batch 1 --inflight 64
  run postgres 31001 unbatched queue --messages 50000 --batch 1 --inflight 64
  run sqlite 31000 one-by-one queue --messages 10000 --consumers 0 --batch 1 --inflight 1 --warmup 3
  run postgres 31001 one-by-one queue --messages 10000 --consumers 0 --batch 1 --inflight 1 --warmup 3
done
echo "results in $OUT" >&2
