#!/usr/bin/env bash
# What metrics and tracing cost: P1 C1 (`bench queue`, 1 KiB, batches of 100) against two silos of one Release build that
# run side by side for the whole sitting: one with metrics off (Broker:Http:Metrics=false: nothing listens to the broker's
# or Orleans' meters) and one with metrics on (its Prometheus endpoint scraped every SCRAPE_SECONDS, default 5, all
# along). Both are warmed up first by an unmeasured run of WARMUP messages each (default 300000: a fresh silo runs
# slowly until the JIT has optimized it), then the variants alternate run by run, every other round in reverse order:
#   off      metrics-off silo, no tracer in the bench
#   metrics  metrics-on silo, no tracer
#   trace    metrics-off silo, the bench records every span (--trace: a send span per publish call, the trace context in
#            every message's headers, stored and delivered with it)
#   on       metrics-on silo and --trace
# The idle silo costs the busy one almost nothing (an idle queue does not tick), so both see the same machine, and no
# silo restarts between runs. Prints each run's msg/s and the CPU it cost per message in its silo (/proc/PID/stat
# before and after) and in the bench (`time`), the medians against "off", and each run against the "off" run of its
# round. Usage, from the repository root:
#   tests/OrleansBroker.Benchmarks/telemetry-cost.sh [ROUNDS] [MESSAGES]      (VARIANTS="off on" by default)
set -euo pipefail
ROUNDS=${1:-6}; MESSAGES=${2:-200000}
SILO_PORT=${SILO_PORT:-21511}; GATEWAY_PORT=${GATEWAY_PORT:-31500}; HTTP_PORT=${HTTP_PORT:-31580}
WORK=$(mktemp -d)
OFF_PID=; ON_PID=; SCRAPER_PID=
cleanup() {
  [ -n "$SCRAPER_PID" ] && kill "$SCRAPER_PID" 2>/dev/null || true
  for pid in $OFF_PID $ON_PID; do kill -TERM "$pid" 2>/dev/null && wait "$pid" || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
TICKS=$(getconf CLK_TCK)
dotnet build -c Release -v q -nologo silo-host/silo-host.csproj > /dev/null
dotnet build -c Release -v q -nologo src/OrleansBroker.Cli/OrleansBroker.Cli.csproj > /dev/null
CLI=src/OrleansBroker.Cli/bin/Release/net10.0/obroker.dll

# start_silo NAME METRICS OFFSET: a silo on ports shifted by OFFSET, its own data folder; its PID in SILO_PID.
start_silo() {
  dotnet silo-host/bin/Release/net10.0/obroker-silo.dll --silo-port $((SILO_PORT + $3)) --gateway-port $((GATEWAY_PORT + $3)) \
    --http-port $((HTTP_PORT + $3)) --mqtt-port 0 --amqp-port 0 --data-dir "$WORK/$1" --Broker:Http:Metrics "$2" > "$WORK/$1.log" 2>&1 &
  SILO_PID=$!
}
wait_started() {
  for _ in $(seq 1 120); do grep -q "Application started" "$WORK/$1.log" && return 0; sleep 0.5; done
  echo "silo $1 did not start:" >&2; cat "$WORK/$1.log" >&2; exit 1
}
start_silo off false 0; OFF_PID=$SILO_PID
start_silo on true 1; ON_PID=$SILO_PID
wait_started off; wait_started on
(while true; do curl -s -o /dev/null "http://127.0.0.1:$((HTTP_PORT + 1))/metrics"; sleep "${SCRAPE_SECONDS:-5}"; done) &
SCRAPER_PID=$!
for offset in 0 1; do
  if [ "${WARMUP:-300000}" -gt 0 ]; then
    dotnet "$CLI" --gateway "localhost:$((GATEWAY_PORT + offset))" bench queue --messages "${WARMUP:-300000}" > /dev/null 2>&1
  fi
done

read -r -a ORDER <<< "${VARIANTS:-off on}"
for round in $(seq 1 "$ROUNDS"); do
  # Every other round runs the variants in reverse order, so running first or last in a round favours none of them.
  variants=("${ORDER[@]}")
  if [ $((round % 2)) -eq 0 ]; then
    variants=(); for ((i = ${#ORDER[@]} - 1; i >= 0; i--)); do variants+=("${ORDER[i]}"); done
  fi
  for variant in "${variants[@]}"; do
    case "$variant" in
      off) offset=0; pid=$OFF_PID; trace=() ;;
      metrics) offset=1; pid=$ON_PID; trace=() ;;
      trace) offset=0; pid=$OFF_PID; trace=(--trace) ;;
      on) offset=1; pid=$ON_PID; trace=(--trace) ;;
      *) echo "unknown variant $variant (off, metrics, trace, on)" >&2; exit 2 ;;
    esac
    silo_before=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    line=$(/usr/bin/time -f "%U %S" -o "$WORK/bench.time" dotnet "$CLI" --gateway "localhost:$((GATEWAY_PORT + offset))" bench queue --messages "$MESSAGES" "${trace[@]}" 2>/dev/null | tail -1)
    silo_after=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
    read -r rate lost duplicates < <(/usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(round(d["throughput_msgs_per_s"]), d["lost"], d["duplicates"])' "$line")
    if [ "$lost" != 0 ] || [ "$duplicates" != 0 ]; then echo "round $round $variant: lost $lost, duplicates $duplicates" >&2; exit 1; fi
    # CPU per message (µs), the silo during the run and the whole bench process: steadier than msg/s on a shared machine.
    silo_us=$(( (silo_after - silo_before) * 1000000 / TICKS / MESSAGES ))
    bench_us=$(awk -v m="$MESSAGES" '{ printf "%d", ($1 + $2) * 1000000 / m }' "$WORK/bench.time")
    echo "round $round $variant: $rate msg/s, silo $silo_us µs CPU/msg, bench $bench_us µs CPU/msg"
    echo "$variant $rate $silo_us $bench_us" >> "$WORK/rates"
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
    against = "" if variant == "off" or "off" not in runs else (
        f"; against off: {100 * (rate - median('off', 0)) / median('off', 0):+.1f}% msg/s, "
        f"{100 * (silo - median('off', 1)) / median('off', 1):+.1f}% silo CPU, {100 * (bench - median('off', 2)) / median('off', 2):+.1f}% bench CPU")
    print(f"median {variant}: {rate:.0f} msg/s ({listed(variant, 0)}), silo {silo:.0f} µs CPU/msg ({listed(variant, 1)}), "
          f"bench {bench:.0f} µs CPU/msg ({listed(variant, 2)}){against}")
# The same round by round: each run against the "off" run of its own round (run next to it), which a machine whose speed
# drifts over the sitting disturbs less than medians taken over the whole sitting.
for variant in runs:
    if variant == "off" or "off" not in runs:
        continue
    paired = sorted(100 * (r[0] / o[0] - 1) for r, o in zip(runs[variant], runs["off"]))
    print(f"round by round {variant} against off: median {statistics.median(paired):+.1f}% msg/s ({' / '.join(f'{p:+.1f}' for p in paired)})")
PY
