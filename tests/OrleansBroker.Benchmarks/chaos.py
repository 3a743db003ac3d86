#!/usr/bin/env python3
"""Fault injection against a 3-silo cluster: load, repeated kill -9 and SIGSTOP of random silos, and what it cost.

Starts its own store (Azurite from tests/azurite, or with --store postgres a PostgreSQL server of its own) and three
Release silo-hosts on it with fast failure detection, runs `obroker bench queue` over a partitioned queue through the
membership table (run after run, until the faults are done), and while it runs kills a random silo with SIGKILL every --interval seconds (restarting it
--restart-after seconds later), then pauses one with SIGSTOP for --pause seconds. It prints, per fault, how long until
deliveries and publish confirmations went on and how many messages were leased (in flight to consumers) just before it,
whether a paused silo that was declared dead stopped by itself, and the bench's lost and duplicates, set beside the
leased total: a fault can cost a duplicate only of a message leased when it struck. Exit 1 if anything confirmed was lost or the bench failed.

Usage (from the repository root, after `dotnet build -c Release`):
  tests/OrleansBroker.Benchmarks/chaos.py [--store azure|postgres] [--messages 100000] [--kills 10] [--interval 15]
                                          [--restart-after 5] [--pause 20] [--seed N] [--out DIR] [--silo-arg=--Broker:...]
Takes about --kills x --interval seconds plus the pause and the drain; every process it starts is ended by its PID.
"""
import argparse, json, os, random, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SILO = os.path.join(ROOT, "silo-host/bin/Release/net10.0/obroker-silo.dll")
CLI = os.path.join(ROOT, "src/OrleansBroker.Cli/bin/Release/net10.0/obroker.dll")
PROGRESS = re.compile(r"published (\d+)/\d+, received (\d+)")
IN_FLIGHT = re.compile(r"^in flight:\s+(\d+)", re.M)
COUNTER = re.compile(r"^(published|acked|ready|in flight):\s+(\d+)", re.M)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, what, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise SystemExit(f"chaos: timed out waiting for {what}")


class Store:
    """The shared store: Azurite (blobs, tables) or PostgreSQL, in a folder of its own."""

    def __init__(self, kind, work):
        self.kind, self.work, self.process = kind, work, None
        self.as_postgres = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] if os.geteuid() == 0 else []
        if kind == "azure":
            entry = os.path.join(ROOT, "tests/azurite/node_modules/azurite/dist/src/azurite.js")
            if not os.path.exists(entry):
                subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=os.path.join(ROOT, "tests/azurite"), check=True)
            blob, queue, table = free_port(), free_port(), free_port()
            folder = os.path.join(work, "azurite")
            os.makedirs(folder)
            self.process = subprocess.Popen(["node", entry, "--location", folder, "--silent", "--skipApiVersionCheck", "--loose",
                                             "--disableTelemetry", "--blobPort", str(blob), "--queuePort", str(queue),
                                             "--tablePort", str(table)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for(lambda: accepts(blob) and accepts(table), "Azurite", 60)
            key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
            cs = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={key};"
                  f"BlobEndpoint=http://127.0.0.1:{blob}/devstoreaccount1;TableEndpoint=http://127.0.0.1:{table}/devstoreaccount1;")
            self.silo_args = ["--storage", "azure", "--clustering", "azure", "--azure-connection-string", cs]
            self.cli_args = ["--clustering", "azure", "--azure-connection-string", cs]
        else:
            bins = sorted(d for d in os.listdir("/usr/lib/postgresql")) if os.path.isdir("/usr/lib/postgresql") else []
            if not bins:
                raise SystemExit("chaos: --store postgres needs Debian's postgresql (apt-get install postgresql)")
            self.bin = os.path.join("/usr/lib/postgresql", bins[-1], "bin")
            self.data = os.path.join(work, "pg")
            if self.as_postgres:
                shutil.chown(work, "postgres", "postgres")
            port = free_port()
            subprocess.run(self.as_postgres + [os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "postgres", "--auth=trust"],
                           check=True, stdout=subprocess.DEVNULL)
            subprocess.run(self.as_postgres + [os.path.join(self.bin, "pg_ctl"), "start", "-D", self.data, "-l", os.path.join(work, "pg.log"),
                                               "-w", "-o", f"-p {port} -k {work} -c listen_addresses=127.0.0.1 -c max_connections=300"],
                           check=True, stdout=subprocess.DEVNULL)
            cs = f"Host=127.0.0.1;Port={port};Username=postgres;Database=chaos"
            self.silo_args = ["--storage", "postgres", "--clustering", "postgres", "--postgres-connection-string", cs]
            self.cli_args = ["--clustering", "postgres", "--postgres-connection-string", cs]

    def stop(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        if self.kind == "postgres" and os.path.exists(os.path.join(self.data, "postmaster.pid")):
            subprocess.run(self.as_postgres + [os.path.join(self.bin, "pg_ctl"), "stop", "-D", self.data, "-m", "fast", "-w"],
                           stdout=subprocess.DEVNULL)


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class Silo:
    def __init__(self, index, work, store_args):
        self.index, self.work, self.store_args = index, work, store_args
        self.silo_port, self.gateway_port = free_port(), free_port()
        self.process, self.log, self.starts = None, None, 0

    def start(self):
        self.starts += 1
        self.log = open(os.path.join(self.work, f"silo{self.index}.{self.starts}.log"), "w")
        self.process = subprocess.Popen(
            ["dotnet", SILO, "--data-dir", os.path.join(self.work, f"silo{self.index}"), "--silo-port", str(self.silo_port),
             "--gateway-port", str(self.gateway_port), "--http-port", "0", "--mqtt-port", "0", "--amqp-port", "0",
             "--advertised-address", "127.0.0.1", "--cluster-id", "chaos",
             "--Broker:Membership:ProbeTimeout", "00:00:01", "--Broker:Membership:NumMissedProbesLimit", "2", *self.store_args],
            stdout=self.log, stderr=subprocess.STDOUT)

    def ready(self):
        with open(self.log.name) as f:
            return "Application started" in f.read()

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def end(self):
        if self.alive():
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=["azure", "postgres"], default="azure")
    parser.add_argument("--messages", type=int, default=100_000, help="messages per bench run; runs repeat until the faults are done")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--interval", type=float, default=15)
    parser.add_argument("--restart-after", type=float, default=5)
    parser.add_argument("--pause", type=float, default=20)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--silo-arg", action="append", default=[], help="a further silo-host switch (repeat), e.g. --silo-arg=--Broker:Membership:TableRefreshTimeout=00:01:00")
    parser.add_argument("--out", default=None, help="folder for the logs (default: a temporary one, kept)")
    a = parser.parse_args()
    for path in (SILO, CLI):
        if not os.path.exists(path):
            raise SystemExit(f"chaos: {path} is missing: run `dotnet build -c Release` first")
    rng = random.Random(a.seed)
    work = a.out or tempfile.mkdtemp(prefix="obroker-chaos-")
    os.makedirs(work, exist_ok=True)
    print(f"chaos: logs in {work}", file=sys.stderr)

    store, silos, runner = None, [], None
    try:
        store = Store(a.store, work)
        silos = [Silo(i, work, store.silo_args + a.silo_arg) for i in range(3)]
        for silo in silos:
            silo.start()
        wait_for(lambda: all(s.ready() for s in silos), "three silos ready", 180)

        runner = BenchRunner(store.cli_args, a.messages, a.partitions, work)
        runner.start()
        wait_for(lambda: runner.failed or runner.received() > 0, "the first deliveries", 180)

        faults = []  # dicts: kind, silo, at, and for pauses: stopped_after
        for n in range(a.kills):
            time.sleep(a.interval)
            if runner.failed:
                break
            victim = rng.choice([s for s in silos if s.alive()])
            leased = runner.leased()
            faults.append({"kind": "kill -9", "silo": victim.index, "at": time.monotonic(), "leased": leased})
            victim.process.kill()
            victim.process.wait()
            print(f"chaos: kill -9 silo {victim.index} ({n + 1}/{a.kills})", file=sys.stderr)
            time.sleep(a.restart_after)
            victim.start()
        if a.pause > 0 and not runner.failed:
            time.sleep(a.interval)
            victim = rng.choice([s for s in silos if s.alive()])
            leased = runner.leased()
            fault = {"kind": "SIGSTOP", "silo": victim.index, "at": time.monotonic(), "stopped_after": None, "leased": leased}
            faults.append(fault)
            victim.process.send_signal(signal.SIGSTOP)
            print(f"chaos: SIGSTOP silo {victim.index} for {a.pause:.0f} s", file=sys.stderr)
            time.sleep(a.pause)
            victim.process.send_signal(signal.SIGCONT)
            resumed = time.monotonic()
            deadline = resumed + 60
            while time.monotonic() < deadline and victim.alive():
                time.sleep(0.2)
            fault["stopped_after"] = None if victim.alive() else time.monotonic() - resumed
            print(f"chaos: the paused silo {'is still running 60 s after SIGCONT' if victim.alive() else 'stopped %.1f s after SIGCONT' % fault['stopped_after']}",
                  file=sys.stderr)
            if not victim.alive():
                victim.start()

        runner.finish()
        report(faults, runner)
    finally:
        if runner is not None:
            runner.stop()
        for silo in silos:
            silo.end()
        if store is not None:
            store.stop()


class BenchRunner:
    """Runs `obroker bench queue` back to back (queue chaos1, chaos2, ...) until told to finish, so that the load lasts as
    long as the faults whatever the rate; records progress with cumulative counts and each run's result."""

    def __init__(self, cli_args, messages, partitions, work):
        self.cli_args, self.messages, self.partitions, self.work = cli_args, messages, partitions, work
        self.progress, self.results, self.failed = [], [], None  # progress: (time, published, received), cumulative
        self._finish, self._process, self._thread = threading.Event(), None, None
        self.queue = "chaos1"

    def start(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def received(self):
        return self.progress[-1][2] if self.progress else 0

    def leased(self):
        """Messages of the current run's queue leased to consumers now, as `obroker queue info` reports them; None if it fails."""
        m = IN_FLIGHT.search(self._info(self.queue, tries=1))
        return int(m.group(1)) if m else None

    def _info(self, queue, tries=3):
        """`obroker queue info` of `queue` (tried again if a silo had just died); empty if it fails."""
        for _ in range(tries):
            try:
                info = subprocess.run(["dotnet", CLI, *self.cli_args, "--cluster-id", "chaos", "queue", "info", queue],
                                      capture_output=True, text=True, timeout=45)
            except subprocess.TimeoutExpired:
                continue
            if info.returncode == 0:
                return info.stdout
        return ""

    def _run(self):
        done = 0
        n = 0
        while True:
            n += 1
            self.queue = f"chaos{n}"
            self._process = subprocess.Popen(
                ["dotnet", CLI, *self.cli_args, "--cluster-id", "chaos", "bench", "queue", "--queue", f"chaos{n}", "--messages", str(self.messages),
                 "--producers", "2", "--consumers", "2", "--partitions", str(self.partitions), "--retry-publishes", "--timeout", "300"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            out = []
            reader = threading.Thread(target=lambda: out.extend(self._process.stdout), daemon=True)
            reader.start()
            with open(os.path.join(self.work, f"bench{n}.err"), "w") as err:
                for line in self._process.stderr:
                    err.write(line)
                    if m := PROGRESS.search(line):
                        self.progress.append((time.monotonic(), done + int(m.group(1)), done + int(m.group(2))))
            code = self._process.wait()
            reader.join()
            result = next((json.loads(l) for l in reversed(out) if l.startswith("{")), None)
            if result is None or code != 0:
                self.failed = f"bench run {n} exited {code}" + ("" if result else " with no result")
            if result is not None:
                # The queue's own counters: each message published and acked once, whatever the faults did to its calls.
                counters = {k: int(v) for k, v in COUNTER.findall(self._info(self.queue))}
                result["queue_counters"] = counters
                self.results.append(result)
            done += self.messages
            if self.failed or self._finish.is_set():
                return

    def finish(self, timeout=900):
        """No new run; waits for the current one to end."""
        self._finish.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise SystemExit("chaos: the bench did not finish within 15 minutes of the last fault")

    def stop(self):
        self._finish.set()
        if self._process is not None and self._process.poll() is None:
            self._process.kill()


def resume_after(progress, at, column):
    """Seconds from the fault until the count in `column` first grew past what it was at the fault; None if never."""
    before = [p for p in progress if p[0] <= at]
    base = before[-1][column] if before else 0
    after = next((p for p in progress if p[0] > at and p[column] > base), None)
    return None if after is None else after[0] - at


def report(faults, runner):
    progress = runner.progress
    print(f"\n{'fault':<9} {'silo':>4} {'leased before':>13} {'deliveries resumed':>19} {'confirmations resumed':>22}  note")
    delivered, confirmed = [], []
    for f in faults:
        d, c = resume_after(progress, f["at"], 2), resume_after(progress, f["at"], 1)
        if f["kind"] == "kill -9":
            delivered += [d] if d is not None else []
            confirmed += [c] if c is not None else []
        note = ""
        if f["kind"] == "SIGSTOP":
            note = "still running 60 s after SIGCONT" if f["stopped_after"] is None else f"stopped {f['stopped_after']:.1f} s after SIGCONT"
        fmt = lambda x: "never" if x is None else f"{x:.1f} s"
        leased = "?" if f.get("leased") is None else str(f["leased"])
        print(f"{f['kind']:<9} {f['silo']:>4} {leased:>13} {fmt(d):>19} {fmt(c):>22}  {note}")
    if delivered and confirmed:
        print(f"kill -9, median: deliveries resumed {statistics.median(delivered):.1f} s, confirmations {statistics.median(confirmed):.1f} s; "
              f"max {max(delivered):.1f} s and {max(confirmed):.1f} s (progress is sampled once a second)")
    total = {k: sum(r.get(k) or 0 for r in runner.results) for k in ("messages", "lost", "duplicates", "ack_failures", "publish_retries")}
    total["leased_at_faults"] = sum(f.get("leased") or 0 for f in faults)
    counted = [(n + 1, r["messages"], r.get("queue_counters") or {}) for n, r in enumerate(runner.results)]
    unread = [n for n, _, c in counted if not c]
    # A message the bench received whose ack failed (a lease handed over, a silo lost) and that was not delivered again
    # before the run ended is still in the queue: acked plus what is left equals the messages.
    left = lambda c: c.get("ready", 0) + c.get("in flight", 0)
    miscounted = [(n, c) for n, messages, c in counted if c and (c.get("published"), c.get("acked", 0) + left(c)) != (messages, messages)]
    remaining = [(n, left(c)) for n, _, c in counted if c and left(c)]
    print("queue counters: " + (f"off in runs {miscounted}" if miscounted else "published, and acked plus left in the queue, equal the messages in every run read")
          + (f"; left in the queue (received, ack failed, not delivered again before the run ended) in runs {remaining}" if remaining else "")
          + (f"; not read (queue info failed) in runs {unread}" if unread else ""))
    print(json.dumps({"bench_runs": len(runner.results), **total, "throughput_msgs_per_s": [r["throughput_msgs_per_s"] for r in runner.results]}))
    if runner.failed or total["lost"] != 0:
        raise SystemExit(f"chaos: {runner.failed or 'messages lost'}")


if __name__ == "__main__":
    main()
