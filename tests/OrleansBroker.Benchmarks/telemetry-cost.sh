#!/usr/bin/env bash
# What metrics and tracing cost: P1 C1 (`bench queue`, 1 KiB, batches of 100) on one Release build, alternating round by
# round (in turn first and last) between "off" (Broker:Http:Metrics=false: nothing listens to the broker's meter; no tracer in the bench) and "on"
# (the Prometheus endpoint scraped every SCRAPE_SECONDS, default 5, during the run; the bench records every span with --trace), a fresh silo
# each run, warmed up by an unmeasured run of WARMUP messages (default 200000: a fresh silo runs slowly until the JIT
# has optimized it; 0 for none). VARIANTS="off metrics trace on" also runs metrics alone and tracing alone. Prints each run's msg/s and the
# medians against "off", each run against the "off" run of its round, and the CPU each run cost per message in the
# silo and in the bench. Usage, from the repository root:
#   tests/OrleansBroker.Benchmarks/telemetry-cost.sh [ROUNDS] [MESSAGES]
set -euo pipefail
ROUNDS=${1:-3}; MESSAGES=${2:-200000}
SILO_PORT=${SILO_PORT:-21511}; GATEWAY_PORT=${GATEWAY_PORT:-31500}; HTTP_PORT=${HTTP_PORT:-31580}
WORK=$(mktemp -d)
SILO_PID=; SCRAPER_PID=
cleanup() {
  [ -n "$SCRAPER_PID" ] && kill "$SCRAPER_PID" 2>/dev/null || true
  [ -n "$SILO_PID" ] && kill -TERM "$SILO_PID" 2>/dev/null && wait "$SILO_PID" || true
  rm -rf "$WORK"
}
trap cleanup EXIT
TICKS=$(getconf CLK_TCK)
# The silo's user + system CPU so far, in clock ticks (fields 14 and 15 of /proc/PID/stat).
silo_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SILO_PID/stat"; }
dotnet build -c Release -v q -nologo silo-host/silo-host.csproj > /dev/null
dotnet build -c Release -v q -nologo src/OrleansBroker.Cli/OrleansBroker.Cli.csproj > /dev/null
read -r -a ORDER <<< "${VARIANTS:-off on}"
for round in $(seq 1 "$ROUNDS"); do
  # Every other round runs the variants in reverse order, so running first or last in a round favours none of them.
  variants=("${ORDER[@]}")
  if [ $((round % 2)) -eq 0 ]; then
    variants=(); for ((i = ${#ORDER[@]} - 1; i >= 0; i--)); do variants+=("${ORDER[i]}"); done
  fi
  for variant in "${variants[@]}"; do
    rm -rf "$WORK/data"
    metrics=$([ "$variant" = on ] || [ "$variant" = metrics ] && echo true || echo false)
    dotnet silo-host/bin/Release/net10.0/obroker-silo.dll --silo-port "$SILO_PORT" --gateway-port "$GATEWAY_PORT" --mqtt-port 0 --amqp-port 0 --http-port "$HTTP_PORT" \
      --data-dir "$WORK/data" --Broker:Http:Metrics "$metrics" > "$WORK/silo.log" 2>&1 &
    SILO_PID=$!
    for _ in $(seq 1 120); do grep -q "Application started" "$WORK/silo.log" && break; sleep 0.5; done
    trace=()
    if [ "$metrics" = true ]; then
      (while true; do curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/metrics"; sleep "${SCRAPE_SECONDS:-5}"; done) &
      SCRAPER_PID=$!
    fi
    if [ "$variant" = on ] || [ "$variant" = trace ]; then trace=(--trace); fi
    if [ "${WARMUP:-200000}" -gt 0 ]; then
      dotnet src/OrleansBroker.Cli/bin/Release/net10.0/obroker.dll --gateway "localhost:$GATEWAY_PORT" bench queue --messages "${WARMUP:-200000}" "${trace[@]}" > /dev/null 2>&1
    fi
    silo_before=$(silo_cpu_ticks)
    line=$(/usr/bin/time -f "%U %S" -o "$WORK/bench.time" dotnet src/OrleansBroker.Cli/bin/Release/net10.0/obroker.dll --gateway "localhost:$GATEWAY_PORT" bench queue --messages "$MESSAGES" "${trace[@]}" 2>/dev/null | tail -1)
    silo_after=$(silo_cpu_ticks)
    rate=$(/usr/bin/python3 -c 'import json,sys; print(round(json.loads(sys.argv[1])["throughput_msgs_per_s"]))' "$line")
    # CPU per message (µs), silo during the run and the whole bench process: steadier than msg/s on a shared machine.
    silo_us=$(( (silo_after - silo_before) * 1000000 / TICKS / MESSAGES ))
    bench_us=$(awk -v m="$MESSAGES" '{ printf "%d", ($1 + $2) * 1000000 / m }' "$WORK/bench.time")
    echo "round $round $variant: $rate msg/s, silo $silo_us µs CPU/msg, bench $bench_us µs CPU/msg"
    echo "$variant $rate $silo_us $bench_us" >> "$WORK/rates"
    if [ -n "$SCRAPER_PID" ]; then kill "$SCRAPER_PID"; wait "$SCRAPER_PID" 2>/dev/null || true; SCRAPER_PID=; fi
    kill -TERM "$SILO_PID"; wait "$SILO_PID" || true; SILO_PID=
  done
done
/usr/bin/python3 - "$WORK/rates" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    variant, *figures = line.split()
    runs.setdefault(variant, []).append([float(f) for f in figures])
def median(variant, i): return statistics.median(r[i] for r in runs[variant])
def listed(variant, i): return " / ".join(f"{r[i]:.0f}" for r in runs[variant])
for variant in runs:
    rate, silo, bench = (median(variant, i) for i in range(3))
    against = "" if variant == "off" else (
        f"; against off: {100 * (rate - median('off', 0)) / median('off', 0):+.1f}% msg/s, "
        f"{100 * (silo - median('off', 1)) / median('off', 1):+.1f}% silo CPU, {100 * (bench - median('off', 2)) / median('off', 2):+.1f}% bench CPU")
    print(f"median {variant}: {rate:.0f} msg/s ({listed(variant, 0)}), silo {silo:.0f} µs CPU/msg ({listed(variant, 1)}), "
          f"bench {bench:.0f} µs CPU/msg ({listed(variant, 2)}){against}")
# The same round by round: each run against the "off" run of its own round (run next to it), which a machine whose speed
# drifts over the sitting disturbs less than medians taken over the whole sitting.
for variant in runs:
    if variant == "off":
        continue
    paired = sorted(100 * (r[0] / o[0] - 1) for r, o in zip(runs[variant], runs["off"]))
    print(f"round by round {variant} against off: median {statistics.median(paired):+.1f}% msg/s ({' / '.join(f'{p:+.1f}' for p in paired)})")
PY
