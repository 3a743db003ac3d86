#!/usr/bin/env bash
# What many idle active queues cost: a fresh Release silo-host on SQLite, QUEUES queues (default 10,000) each given one
# message that is received, acked and kept (so every queue is active), then left alone for 75 s (past the reminder
# period of a queue that had a delivery out); prints the silo's CPU per second over the next 30 s, its CPU per second
# idle before any queue existed, and its RSS. ROUNDS runs (default 2), each on a fresh silo.
# Usage, from the repository root: tests/OrleansBroker.Benchmarks/idle-queues.sh
set -euo pipefail
QUEUES=${QUEUES:-10000}
ROUNDS=${ROUNDS:-2}
GATEWAY_PORT=${GATEWAY_PORT:-31400}
WORK=$(mktemp -d)
SILO_PID=
stop_silo() { [ -n "$SILO_PID" ] && kill -TERM "$SILO_PID" && wait "$SILO_PID" || true; SILO_PID=; }
trap 'stop_silo; rm -rf "$WORK"' EXIT
cpu_ms() { awk '{print ($14 + $15) * 10}' "/proc/$SILO_PID/stat"; }   # utime + stime, clock ticks of 10 ms
dotnet build -c Release -v q -nologo > /dev/null
for round in $(seq 1 "$ROUNDS"); do
  rm -rf "$WORK/data"
  dotnet silo-host/bin/Release/net10.0/obroker-silo.dll --data-dir "$WORK/data" --silo-port 21411 --gateway-port "$GATEWAY_PORT" \
    --http-port 0 --mqtt-port 0 --amqp-port 0 > "$WORK/silo.log" 2>&1 &
  SILO_PID=$!
  for _ in $(seq 1 120); do grep -q "Application started" "$WORK/silo.log" && break; sleep 0.5; done
  before=$(cpu_ms); sleep 20; idle=$(( ($(cpu_ms) - before) / 20 ))
  dotnet src/OrleansBroker.Cli/bin/Release/net10.0/obroker.dll --gateway "localhost:$GATEWAY_PORT" \
    bench queues --queues "$QUEUES" --each 1 --keep > "$WORK/bench.json" 2> /dev/null
  sleep 75
  before=$(cpu_ms); sleep 30; busy=$(( ($(cpu_ms) - before) / 30 ))
  rss=$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$SILO_PID/status")
  echo "round $round: silo CPU ${idle} ms/s idle before, ${busy} ms/s with $QUEUES idle active queues; RSS $rss MB; bench: $(cat "$WORK/bench.json")"
  stop_silo
done
