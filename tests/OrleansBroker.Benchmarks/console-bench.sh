#!/usr/bin/env bash
# The console's queue list with many queues: starts a Release silo-host here, makes QUEUES queues (default 10,000) in one
# definitions import, then loads the queues page in headless Chromium RUNS times (default 5, after a warm-up) and prints
# the time from navigation to the first rows of each and the median. Needs Debian's chromium (apt-get install chromium).
# Usage, from the repository root: tests/OrleansBroker.Benchmarks/console-bench.sh
set -euo pipefail
QUEUES=${QUEUES:-10000}
RUNS=${RUNS:-5}
HTTP_PORT=${HTTP_PORT:-31190}
WORK=$(mktemp -d)
PASSWORD=bench-$RANDOM-$RANDOM
[ -x /usr/bin/chromium ] || { echo "chromium is not installed: apt-get install chromium" >&2; exit 2; }
dotnet build -c Release -v q -nologo > /dev/null
dotnet build -c Release -v q -nologo tests/OrleansBroker.Benchmarks > /dev/null
dotnet silo-host/bin/Release/net10.0/obroker-silo.dll --data-dir "$WORK/data" --silo-port 21411 --gateway-port 31400 --mqtt-port 0 --amqp-port 0 \
  --http-port "$HTTP_PORT" --Broker:Http:AdminPassword "$PASSWORD" > "$WORK/silo.log" 2>&1 &
SILO_PID=$!
trap 'kill -TERM $SILO_PID; wait $SILO_PID || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 120); do grep -q "Application started" "$WORK/silo.log" && break; sleep 0.5; done
URL=http://127.0.0.1:$HTTP_PORT
/usr/bin/python3 -c "import json,sys; print(json.dumps({'queues': [{'tenant': '', 'name': f'queue-{i:05d}'} for i in range(int(sys.argv[1]))]}))" "$QUEUES" > "$WORK/definitions.json"
start=$(date +%s)
status=$(curl -sS -o "$WORK/import.json" -w '%{http_code}' -u "admin:$PASSWORD" -H 'Content-Type: application/json' --data-binary @"$WORK/definitions.json" "$URL/api/definitions")
[ "$status" = 200 ] || { echo "definitions import answered $status: $(head -c 500 "$WORK/import.json")" >&2; exit 1; }
echo "made $QUEUES queues in $(( $(date +%s) - start )) s"
dotnet tests/OrleansBroker.Benchmarks/bin/Release/net10.0/OrleansBroker.Benchmarks.dll console-paint --url "$URL/" --password "$PASSWORD" --runs "$RUNS"
# Sorted by a figure, a page reads every queue's figures: the first time activates every queue.
for run in first second; do
  curl -sS -o /dev/null -w "sorted by ready ($run read): %{time_total} s\n" -u "admin:$PASSWORD" "$URL/api/queues?page=1&sort=ready&sortReverse=true"
done
