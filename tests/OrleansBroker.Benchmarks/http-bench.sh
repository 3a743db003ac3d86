#!/usr/bin/env bash
# HTTP publish throughput against a Release silo-host started here, measured with wrk (a standard HTTP load tool, so the
# figure is the broker's, not a .NET client's): one 1 KiB message per request, and JSON batches of 100, 64 keep-alive
# connections, ROUNDS runs of SECONDS each (default 3 x 10 s); prints each run and the median, in messages per second.
# Needs wrk (apt-get install wrk). Usage, from the repository root: tests/OrleansBroker.Benchmarks/http-bench.sh
# For the .NET client's view of the same: obroker bench http --url ... --password ... [--batch N].
set -euo pipefail
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
HTTP_PORT=${HTTP_PORT:-31180}
WORK=$(mktemp -d)
PASSWORD=bench-$RANDOM-$RANDOM
AUTH="Basic $(printf 'admin:%s' "$PASSWORD" | base64 -w0)"
command -v wrk > /dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 2; }
dotnet build -c Release -v q -nologo > /dev/null
dotnet silo-host/bin/Release/net10.0/obroker-silo.dll --data-dir "$WORK/data" --silo-port 21311 --gateway-port 31300 --mqtt-port 0 --amqp-port 0 \
  --http-port "$HTTP_PORT" --Broker:Http:AdminPassword "$PASSWORD" > "$WORK/silo.log" 2>&1 &
SILO_PID=$!
trap 'kill -TERM $SILO_PID; wait $SILO_PID || true' EXIT
for _ in $(seq 1 120); do grep -q "Application started" "$WORK/silo.log" && break; sleep 0.5; done
URL=http://127.0.0.1:$HTTP_PORT
curl -sf -X PUT -H "Authorization: $AUTH" -H 'Content-Type: application/json' -d '{}' "$URL/api/queues/http-bench" > /dev/null

cat > "$WORK/single.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "$AUTH"
wrk.headers["Content-Type"] = "text/plain"
wrk.body = string.rep("x", 1024)
LUA
cat > "$WORK/batch.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "$AUTH"
wrk.headers["Content-Type"] = "application/json"
local one = '{"body":"' .. string.rep("x", 1024) .. '"}'
local all = {}
for i = 1, 100 do all[i] = one end
wrk.body = "[" .. table.concat(all, ",") .. "]"
LUA

measure() { # NAME SCRIPT PATH MESSAGES_PER_REQUEST
  wrk -t2 -c64 -d3s -s "$WORK/$2" "$URL$3" > /dev/null   # warm-up, not reported
  local rates=()
  for _ in $(seq 1 "$ROUNDS"); do
    local rps
    rps=$(wrk -t2 -c64 -d"${SECONDS_PER_RUN}s" -s "$WORK/$2" "$URL$3" | awk '/Requests\/sec/ {print $2}')
    rates+=("$(awk -v r="$rps" -v n="$4" 'BEGIN {printf "%.0f", r * n}')")
    curl -sf -X POST -H "Authorization: $AUTH" "$URL/api/queues/http-bench/purge" > /dev/null
  done
  printf '%s: %s msg/s (runs: %s)\n' "$1" "$(printf '%s\n' "${rates[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" "${rates[*]}"
}
measure "one message per request" single.lua /api/queues/http-bench/messages 1
measure "batches of 100" batch.lua /api/queues/http-bench/messages/batch 100
