#!/usr/bin/env bash
# What many queues cost while idle, and how they come back: a fresh Release silo-host on SQLite with Broker:QueueIdleTime
# IDLE_TIME (default 1 min). QUEUES queues (default 10,000) are created, each given one message that is received, acked
# and kept (`obroker bench queues --keep`), so every queue is active; then left alone for 75 s (past the reminder period
# of a queue that had a delivery out) and the silo's CPU per second is measured over 30 s. Then the script waits until
# the silo reports no active queue (obroker_queues_active on /metrics), measures again, reads the overview and the
# console's queue page sorted by depth three times each (seconds per request; the queues active after them, RSS), and
# publishes, receives and acks one message per queue once more (`--existing`), which brings each queue back. ROUNDS
# rounds (default 1), each on a fresh silo; one line per phase. SILO_DLL runs another build's silo-host (default: this
# tree's Release build); the obroker CLI is always this tree's.
# Usage, from the repository root: tests/OrleansBroker.Benchmarks/idle-queues.sh
set -euo pipefail
QUEUES=${QUEUES:-10000}
ROUNDS=${ROUNDS:-1}
IDLE_TIME=${IDLE_TIME:-00:01:00}
GATEWAY_PORT=${GATEWAY_PORT:-31400}
HTTP_PORT=${HTTP_PORT:-31480}
SILO_DLL=${SILO_DLL:-silo-host/bin/Release/net10.0/obroker-silo.dll}
PASSWORD=bench-$RANDOM-$RANDOM
WORK=$(mktemp -d)
SILO_PID=
stop_silo() { [ -n "$SILO_PID" ] && kill -TERM "$SILO_PID" && wait "$SILO_PID" || true; SILO_PID=; }
trap 'stop_silo; rm -rf "$WORK"' EXIT
cpu_ms() { awk '{print ($14 + $15) * 10}' "/proc/$SILO_PID/stat"; }   # utime + stime, clock ticks of 10 ms
cpu_per_s() { local before; before=$(cpu_ms); sleep "$1"; echo $(( ($(cpu_ms) - before) / $1 )); }
rss_mb() { awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$SILO_PID/status"; }
active() { curl -sf -u "admin:$PASSWORD" "http://127.0.0.1:$HTTP_PORT/metrics" | awk '/^obroker_queues_active/ {print $NF}' | tail -1; }
seconds() { curl -sf -o /dev/null -w '%{time_total}' -u "admin:$PASSWORD" "http://127.0.0.1:$HTTP_PORT$1"; }
three() { echo "$(seconds "$1") / $(seconds "$1") / $(seconds "$1") s"; }
bench() { dotnet src/OrleansBroker.Cli/bin/Release/net10.0/obroker.dll --gateway "localhost:$GATEWAY_PORT" bench queues --queues "$QUEUES" --each 1 --keep --name idle "$@" 2> /dev/null; }
dotnet build -c Release -v q -nologo > /dev/null
for round in $(seq 1 "$ROUNDS"); do
  rm -rf "$WORK/data"
  dotnet "$SILO_DLL" --data-dir "$WORK/data" --silo-port 21411 --gateway-port "$GATEWAY_PORT" \
    --http-port "$HTTP_PORT" --mqtt-port 0 --amqp-port 0 --Broker:Http:AdminPassword "$PASSWORD" --Broker:QueueIdleTime "$IDLE_TIME" > "$WORK/silo.log" 2>&1 &
  SILO_PID=$!
  for _ in $(seq 1 120); do grep -q "Application started" "$WORK/silo.log" && break; sleep 0.5; done
  echo "round $round: silo idle before any queue: $(cpu_per_s 20) ms CPU/s, RSS $(rss_mb) MB"
  echo "round $round: first use: $(bench --broker-pid "$SILO_PID")"
  sleep 75
  echo "round $round: $QUEUES idle active queues: $(cpu_per_s 30) ms CPU/s, RSS $(rss_mb) MB, active $(active)"
  waited=0
  until [ "$(active)" = "0" ]; do
    [ "$waited" -ge 900 ] && { echo "queues still active after 900 s" >&2; exit 1; }
    sleep 5; waited=$((waited + 5))
  done
  echo "round $round: all deactivated $waited s later: $(cpu_per_s 30) ms CPU/s, RSS $(rss_mb) MB"
  echo "round $round: GET /api/overview: $(three /api/overview)"
  echo "round $round: GET /api/queues?page=1&sort=depth&sortReverse=true: $(three '/api/queues?page=1&sort=depth&sortReverse=true')"
  echo "round $round: after the lists: active $(active), RSS $(rss_mb) MB"
  echo "round $round: brought back: $(bench --existing --broker-pid "$SILO_PID")"
  stop_silo
done
