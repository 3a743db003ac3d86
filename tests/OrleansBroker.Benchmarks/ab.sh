#!/usr/bin/env bash
# Side by side: this checkout against an earlier commit, in one sitting on the same machine. Builds both in Release
# (the earlier one in a temporary git worktree), then alternates them round by round, a fresh silo each time, and appends
# one JSON line per run to OUT tagged with "build" (old/new), "run" and "round". Medians: ab-summary.py OUT.
# Usage: tests/OrleansBroker.Benchmarks/ab.sh OLD_COMMIT OUT [ROUNDS]   (from the repository root; about 3 minutes a round)
# AB_SCENARIOS="name|bench args;name|bench args" replaces the scenarios below (both builds must know the options used).
# AB_SILO_ARGS="--storage postgres --postgres-connection-string Host=...;Database=ab_%RUN%" adds silo switches; %RUN% becomes
# the build and round (old1, new1, ...), so that each run can have a database of its own.
set -euo pipefail
OLD_REF=$1; OUT=$2; ROUNDS=${3:-3}
SILO_PORT=${SILO_PORT:-21411}
GATEWAY_PORT=${GATEWAY_PORT:-31400}
SCENARIOS=(
  "p1c1|queue --messages 200000"
  "p4c4|queue --messages 200000 --producers 4 --consumers 4"
  "fanout4|fanout --messages 100000 --subscriptions 4"
  "latency|latency --rate 2000 --duration 15"
)
if [ -n "${AB_SCENARIOS:-}" ]; then IFS=';' read -r -a SCENARIOS <<< "$AB_SCENARIOS"; fi
WORK=$(mktemp -d)
OLD_DIR="$WORK/old"
SILO_PID=
cleanup() {
  [ -n "$SILO_PID" ] && kill -TERM "$SILO_PID" 2>/dev/null && wait "$SILO_PID" || true
  git worktree remove --force "$OLD_DIR" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

git worktree add -q --detach "$OLD_DIR" "$OLD_REF"
for dir in "$OLD_DIR" .; do
  dotnet build -c Release -v q -nologo "$dir/silo-host/silo-host.csproj" > /dev/null
  dotnet build -c Release -v q -nologo "$dir/src/OrleansBroker.Cli/OrleansBroker.Cli.csproj" > /dev/null
done

for round in $(seq 1 "$ROUNDS"); do
  for build in old new; do
    dir=$([ "$build" = old ] && echo "$OLD_DIR" || pwd)
    rm -rf "$WORK/data"
    dotnet "$dir/silo-host/bin/Release/net10.0/obroker-silo.dll" --silo-port "$SILO_PORT" --gateway-port "$GATEWAY_PORT" --mqtt-port 0 --amqp-port 0 --http-port 0 \
      --data-dir "$WORK/data" ${AB_SILO_ARGS:+${AB_SILO_ARGS//%RUN%/$build$round}} > "$WORK/silo.log" 2>&1 &
    SILO_PID=$!
    started=
    for _ in $(seq 1 120); do grep -q "Application started" "$WORK/silo.log" && started=1 && break; sleep 0.5; done
    [ -n "$started" ] || { echo "silo ($build) did not start:" >&2; cat "$WORK/silo.log" >&2; exit 1; }
    bench=(dotnet "$dir/src/OrleansBroker.Cli/bin/Release/net10.0/obroker.dll" --gateway "localhost:$GATEWAY_PORT" bench)
    "${bench[@]}" queue --messages 50000 > /dev/null 2>&1   # warm-up, not reported
    for scenario in "${SCENARIOS[@]}"; do
      name=${scenario%%|*}
      read -r -a args <<< "${scenario#*|}"
      "${bench[@]}" "${args[@]}" 2>>"$WORK/bench.err" | grep '^{' \
        | sed "s/^{/{\"build\":\"$build\",\"run\":\"$name\",\"round\":$round,/" >> "$OUT"
    done
    kill -TERM "$SILO_PID"; wait "$SILO_PID" || true; SILO_PID=
    echo "round $round/$ROUNDS: $build done" >&2
  done
done
echo "results in $OUT (summary: tests/OrleansBroker.Benchmarks/ab-summary.py $OUT)" >&2
