#!/usr/bin/env bash
# Runs the table of docs/performance.md: each scenario 3 times against a Release silo-host started here,
# one JSON line per run appended to $OUT (default bench-results.jsonl), each tagged with "run".
# Usage: tests/OrleansBroker.Benchmarks/measure.sh [OUT]   (from the repository root; takes about 25 minutes)
set -euo pipefail
OUT=${1:-bench-results.jsonl}
WORK=$(mktemp -d)
SILO_PORT=${SILO_PORT:-21111}
GATEWAY_PORT=${GATEWAY_PORT:-31000}
SILO=(dotnet silo-host/bin/Release/net10.0/obroker-silo.dll --silo-port "$SILO_PORT" --gateway-port "$GATEWAY_PORT" --mqtt-port 0 --amqp-port 0 --http-port 0)
B=(dotnet src/OrleansBroker.Cli/bin/Release/net10.0/obroker.dll --gateway "localhost:$GATEWAY_PORT" bench)
SILO_PID=

start_silo() { # fresh data folder each time
  rm -rf "$WORK/data"
  "${SILO[@]}" --data-dir "$WORK/data" > "$WORK/silo.log" 2>&1 &
  SILO_PID=$!
  for _ in $(seq 1 120); do grep -q "Application started" "$WORK/silo.log" && return; sleep 0.5; done
  echo "silo did not start; see $WORK/silo.log" >&2; exit 1
}
stop_silo() { [ -n "$SILO_PID" ] && kill -TERM "$SILO_PID" && wait "$SILO_PID" || true; SILO_PID=; }
trap stop_silo EXIT
run() { # run NAME args...: one JSON line tagged with the run name
  local name=$1; shift
  "${B[@]}" "$@" 2>>"$WORK/bench.err" | sed "s/^{/{\"run\":\"$name\",/" >> "$OUT"
}

dotnet build -c Release -v q -nologo > /dev/null
start_silo
"${B[@]}" queue --messages 50000 > /dev/null 2>&1   # warm-up, not reported
for _ in 1 2 3; do run p1c1 queue --messages 200000 --broker-pid "$SILO_PID"; done
for _ in 1 2 3; do run fanout4 fanout --messages 100000 --subscriptions 4 --broker-pid "$SILO_PID"; done
for _ in 1 2 3; do # fan-out against the subscription count, deliveries about level: bytes written per published message
  run fanout1 fanout --messages 100000 --subscriptions 1 --broker-pid "$SILO_PID"
  run fanout16 fanout --messages 25000 --subscriptions 16 --broker-pid "$SILO_PID"
  run fanout64 fanout --messages 10000 --subscriptions 64 --broker-pid "$SILO_PID"
done
for _ in 1 2 3; do run p4c4 queue --messages 200000 --producers 4 --consumers 4 --broker-pid "$SILO_PID"; done
for _ in 1 2 3; do run latency latency --rate 2000 --duration 20 --broker-pid "$SILO_PID"; done   # after 5 s of warm-up (its default)
for _ in 1 2 3; do run single64 queue --messages 200000 --batch 1 --inflight 64 --broker-pid "$SILO_PID"; done
for _ in 1 2 3; do run single400 queue --messages 200000 --batch 1 --inflight 400 --broker-pid "$SILO_PID"; done
for _ in 1 2 3; do run one-by-one queue --messages 10000 --consumers 0 --batch 1 --inflight 1 --warmup 3 --broker-pid "$SILO_PID"; done
for _ in 1 2 3; do run depth depth --depths 0,100000,1000000 --messages 100000 --broker-pid "$SILO_PID"; done
for _ in 1 2 3; do for rate in 1000 5000 10000 20000; do run "latency-$rate" latency --rate "$rate" --duration 15 --broker-pid "$SILO_PID"; done; done
stop_silo
for _ in 1 2 3; do # many queues: a fresh silo each time, its memory counted from idle
  start_silo
  run queues queues --queues 10000 --each 10 --broker-pid "$SILO_PID"
  stop_silo
done
for _ in 1 2 3; do # memory: a fresh silo holding exactly 1M queued messages
  start_silo
  run memory queue --messages 1000000 --consumers 0 --queue deep --broker-pid "$SILO_PID"
  stop_silo
done
for _ in 1 2 3; do # recovery starts, kills (-9) and restarts its own silo
  rm -rf "$WORK/rec"
  run recovery recovery --messages 1000000 -- "${SILO[@]}" --data-dir "$WORK/rec"
done
rm -rf "$WORK"
echo "results in $OUT" >&2
# The latency rows beside RabbitMQ, in the same sitting, when Debian's rabbitmq-server is installed (its own file: other tags).
if [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  tests/OrleansBroker.Benchmarks/rabbitmq-bench.sh "${OUT%.jsonl}-rabbitmq.jsonl" 3 "1000 2000 5000"
else
  echo "rabbitmq-server is not installed: the RabbitMQ latency rows are skipped (apt-get install rabbitmq-server)" >&2
fi
