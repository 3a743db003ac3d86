#!/usr/bin/env bash
# Latency beside RabbitMQ, in one sitting: a RabbitMQ server of its own (Debian's rabbitmq-server, a node in a temporary
# folder, default durability) and a Release silo-host of this checkout on SQLite. For each rate, ROUNDS times, the two
# alternate: `obroker bench latency --rate R` against the silo, then the same shape against RabbitMQ (RabbitLatency.cs:
# durable classic queue, persistent messages, publisher confirms, one consumer with manual acks, the same prefetch).
# One JSON line per run appended to OUT, tagged with "broker" and "round"; medians at the end (ab-summary.py style).
# Usage: tests/OrleansBroker.Benchmarks/rabbitmq-bench.sh [OUT] [ROUNDS] [RATES]   (from the repository root)
#   RATES: space-separated msg/s, default "2000"; DURATION (seconds per run, default 15).
# Needs Debian's rabbitmq-server (apt-get install rabbitmq-server); run as root it starts RabbitMQ as the rabbitmq user.
set -euo pipefail
OUT=${1:-rabbitmq-bench.jsonl}
ROUNDS=${2:-3}
RATES=${3:-2000}
DURATION=${DURATION:-15}
RABBIT_PORT=${RABBIT_PORT:-25672}
SILO_PORT=${SILO_PORT:-21611}
GATEWAY_PORT=${GATEWAY_PORT:-31600}
WORK=$(mktemp -d)
chmod 755 "$WORK"
PIDS=()
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || { echo "rabbitmq-server is not installed: apt-get install rabbitmq-server" >&2; exit 1; }

cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# RabbitMQ: its own node name, ports, data, logs and cookie, no plugins.
AS_RABBIT=(); [ "$(id -u)" = 0 ] && AS_RABBIT=(setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups)
mkdir -p "$WORK/rabbit/home"
echo "[]." > "$WORK/rabbit/enabled_plugins"
[ "$(id -u)" = 0 ] && chown -R rabbitmq:rabbitmq "$WORK/rabbit"
env HOME="$WORK/rabbit/home" RABBITMQ_NODENAME="obench@localhost" RABBITMQ_NODE_PORT="$RABBIT_PORT" RABBITMQ_DIST_PORT=$((RABBIT_PORT + 20000)) \
  RABBITMQ_MNESIA_BASE="$WORK/rabbit/mnesia" RABBITMQ_LOG_BASE="$WORK/rabbit/log" RABBITMQ_ENABLED_PLUGINS_FILE="$WORK/rabbit/enabled_plugins" \
  RABBITMQ_CONFIG_FILE="$WORK/rabbit/rabbitmq" \
  "${AS_RABBIT[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server > "$WORK/rabbit.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 120); do grep -q "Starting broker... completed" "$WORK/rabbit.log" && break; sleep 0.5; done
grep -q "Starting broker... completed" "$WORK/rabbit.log" || { echo "RabbitMQ did not start:" >&2; cat "$WORK/rabbit.log" >&2; exit 1; }

dotnet build -c Release -v q -nologo silo-host/silo-host.csproj > /dev/null
dotnet build -c Release -v q -nologo src/OrleansBroker.Cli/OrleansBroker.Cli.csproj > /dev/null
dotnet build -c Release -v q -nologo tests/OrleansBroker.Benchmarks/OrleansBroker.Benchmarks.csproj > /dev/null
dotnet silo-host/bin/Release/net10.0/obroker-silo.dll --silo-port "$SILO_PORT" --gateway-port "$GATEWAY_PORT" --http-port 0 --mqtt-port 0 --amqp-port 0 \
  --data-dir "$WORK/silo" > "$WORK/silo.log" 2>&1 &
PIDS+=($!)
SILO_PID=$!
for _ in $(seq 1 120); do grep -q "Application started" "$WORK/silo.log" && break; sleep 0.5; done
grep -q "Application started" "$WORK/silo.log" || { echo "silo did not start:" >&2; cat "$WORK/silo.log" >&2; exit 1; }

bench=(dotnet src/OrleansBroker.Cli/bin/Release/net10.0/obroker.dll --gateway "localhost:$GATEWAY_PORT" bench)
rabbit=(dotnet tests/OrleansBroker.Benchmarks/bin/Release/net10.0/OrleansBroker.Benchmarks.dll rabbitmq-latency --uri "amqp://guest:guest@127.0.0.1:$RABBIT_PORT/")
"${bench[@]}" queue --messages 50000 > /dev/null 2>&1            # warm-ups, not reported
"${rabbit[@]}" --rate 2000 --duration 5 > /dev/null

tag() { sed "s/^{/{\"broker\":\"$1\",\"round\":$2,/" >> "$OUT"; }
for round in $(seq 1 "$ROUNDS"); do
  for rate in $RATES; do
    "${bench[@]}" latency --rate "$rate" --duration "$DURATION" --broker-pid "$SILO_PID" 2>>"$WORK/bench.err" | grep '^{' | tag obroker "$round"
    "${rabbit[@]}" --rate "$rate" --duration "$DURATION" | grep '^{' | tag rabbitmq "$round"
    echo "round $round/$ROUNDS, $rate msg/s done" >&2
  done
done

/usr/bin/python3 - "$OUT" <<'EOF'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
for rate in sorted({r["rate_msgs_per_s"] for r in rows}):
    for broker in ("obroker", "rabbitmq"):
        runs = [r for r in rows if r["broker"] == broker and r["rate_msgs_per_s"] == rate]
        if runs:
            med = lambda k: statistics.median(r[k] for r in runs)
            print(f"{broker:9} {rate:>7.0f} msg/s  p50 {med('latency_p50_ms'):.2f}  p99 {med('latency_p99_ms'):.2f}  max {med('latency_max_ms'):.1f} ms"
                  f"  (p99 runs: {' / '.join(str(r['latency_p99_ms']) for r in runs)}; lost {sum(r['lost'] for r in runs)})")
EOF
