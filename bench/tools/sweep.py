#!/usr/bin/env python3
"""Runs the benchmark sweep: every case of bench/tools/plan.py, --runs times, on a quiet
machine, and writes the raw results under --results:

  machine.json     the machine, kernel, compiler and shmbus commit
  results.jsonl    one line per case and run (shmbus-harness's line, or python_peers.py's for
                   the python cases, plus run, group, attempt)
  runs.jsonl       each run's start and end: time and load average
  syscalls.json    system calls per record (strace), once per sweep
  roudi.log        iox-roudi's output

A case whose run was disturbed (other processes used more than --max-foreign of the CPUs
while it ran) is discarded and run again, up to three times.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plan  # noqa: E402
import instruction_counts  # noqa: E402
import quiet  # noqa: E402
import roudi  # noqa: E402
import syscalls  # noqa: E402

ATTEMPTS = 3


def command_output(command):
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def describe_machine(root):
    lscpu = command_output(["lscpu"])

    def field(name):
        match = re.search(rf"^{name}:\s*(.+)$", lscpu, re.M)
        return match.group(1).strip() if match else ""

    with open("/proc/meminfo") as f:
        memory_kb = int(f.readline().split()[1])
    debian = ""
    if os.path.exists("/etc/debian_version"):
        with open("/etc/debian_version") as f:
            debian = f.read().strip()
    with open("/sys/devices/system/clocksource/clocksource0/current_clocksource") as f:
        clocksource = f.read().strip()
    return {
        "cpu": field("Model name"), "cpus": os.cpu_count(), "hypervisor": field("Hypervisor vendor"),
        "l1d": field("L1d cache"), "l2": field("L2 cache"), "l3": field("L3 cache"),
        "memory_gib": round(memory_kb / 1024 / 1024, 1), "kernel": platform.release(),
        "debian": debian, "compiler": command_output(["c++", "--version"]).splitlines()[0],
        "clocksource": clocksource,
        # From a snapshot without .git (git archive), SHMBUS_BENCH_COMMIT names the commit.
        "commit": command_output(["git", "-C", root, "rev-parse", "--short", "HEAD"]) or
        os.environ.get("SHMBUS_BENCH_COMMIT", "unknown"),
        "dirty": bool(command_output(["git", "-C", root, "status", "--porcelain", "--", "common",
                                      "client/include", "client/src", "bench"])),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def run_harness(harness, case, timeout):
    with tempfile.TemporaryDirectory() as scratch:
        output = os.path.join(scratch, "result.jsonl")
        command = [harness] + plan.harness_arguments(case) + ["--output", output]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"ok": False, "failures": f"no result within {timeout} s"}
        if not os.path.exists(output):
            return {"ok": False, "failures": done.stderr.strip() or f"exit {done.returncode}"}
        with open(output) as f:
            return json.loads(f.readline())


PYTHON_PEERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python",
                            "python_peers.py")


def python_environment(python_path):
    """The environment python_peers.py runs in: shmbus's package from the build tree first."""
    environment = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    environment["PYTHONPATH"] = os.pathsep.join(
        p for p in (python_path, environment.get("PYTHONPATH")) if p)
    return environment


def python_peers_available(python, python_path):
    """The peers python_peers.py can import with this interpreter and package."""
    done = subprocess.run([python, PYTHON_PEERS, "--available"], capture_output=True, text=True,
                          timeout=60, env=python_environment(python_path))
    return done.stdout.split() if done.returncode == 0 else []


def run_python(python, python_path, case, timeout):
    """A "python" case: bench/python/python_peers.py, one JSON line."""
    command = [python, PYTHON_PEERS] + plan.harness_arguments(case) + ["--timeout", str(timeout)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout + 30,
                              env=python_environment(python_path))
    except subprocess.TimeoutExpired:
        return {"ok": False, "failures": f"no result within {timeout} s"}
    lines = done.stdout.strip().splitlines()
    if not lines:
        return {"ok": False, "failures": done.stderr.strip() or f"exit {done.returncode}"}
    return json.loads(lines[-1])


def run_cli(cli, arguments, timeout):
    with tempfile.TemporaryDirectory() as bus:
        return run_cli_in(cli, ["--dir", bus, "bench", "--json", "--cpus", "0,1"] + arguments,
                          timeout)


def run_cli_in(cli, arguments, timeout):
    command = [cli] + arguments
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        return {"ok": False, "failures": done.stderr.strip()}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["ok"] = True
    return result


CLI_CASES = [
    # label, group, shmbus bench arguments, the harness case it must agree with
    ("shmbus bench latency", "cli", ["--test", "latency", "--size", "64", "--count", "200000",
                                     "--wait", "spin"]),
    ("shmbus bench throughput", "cli", ["--test", "throughput", "--size", "64", "--count",
                                        "10000000", "--wait", "spin", "--batch", "32"]),
    ("shmbus bench latency sleep", "cli", ["--test", "latency", "--size", "64", "--count",
                                           "200000", "--wait", "sleep"]),
]


def disturbed_by_others(result, max_foreign):
    """Did other programs use more than `max_foreign` of the CPUs while the case ran? /proc/stat
    counts in 10 ms ticks, so 20 ms of other work pass as noise whatever the case's length."""
    if "foreign_cpu_ns" in result and "window_ns" in result:
        capacity = result["window_ns"] * (os.cpu_count() or 1)
        return result["foreign_cpu_ns"] > max_foreign * capacity + 20e6
    return result.get("foreign_share", 0) > 3 * max_foreign


def summary_of(result):
    if not result.get("ok"):
        return "FAILED: " + result.get("failures", "")
    for key, unit, scale in (("p50_ns", "ns p50", 1), ("msgs_per_s", "M msgs/s", 1e6),
                             ("ns_per_record", "ns/record", 1)):
        if key in result:
            return f"{result[key] / scale:.3g} {unit}"
    return "ok"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--harness", required=True)
    parser.add_argument("--cli", help="the shmbus tool, to compare `shmbus bench` with")
    parser.add_argument("--daemon", help="shmbusd, to measure its effect on the data path")
    parser.add_argument("--instructions", help="shmbus-instructions, for callgrind's counts")
    parser.add_argument("--python-path", help="the directory holding shmbus's Python package "
                        "(build/python): without it the python cases are left out")
    parser.add_argument("--python", default="/usr/bin/python3" if os.path.exists(
        "/usr/bin/python3") else sys.executable,
        help="the interpreter shmbus's package was built for (default: /usr/bin/python3)")
    parser.add_argument("--results", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small counts, no waiting")
    parser.add_argument("--only", help="run only cases whose group or label matches this regex")
    parser.add_argument("--max-foreign", type=float, default=0.02)
    parser.add_argument("--no-wait", action="store_true", help="do not wait for a quiet machine")
    parser.add_argument("--skip-syscalls", action="store_true")
    args = parser.parse_args()

    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    os.makedirs(args.results, exist_ok=True)
    with open(os.path.join(args.results, "machine.json"), "w") as f:
        json.dump(describe_machine(root), f, indent=2)
    only = re.compile(args.only) if args.only else None
    cases = plan.full_plan(scale=100 if args.quick else 1, daemon=args.daemon,
                           only=(lambda c: bool(only.search(c["group"] + " " + c["label"])))
                           if only else None)
    iceoryx = roudi.Roudi(os.path.join(args.results, "roudi.log"))
    if not iceoryx.available():
        print("sweep: iox-roudi not installed: leaving out the iceoryx cases")
        cases = [c for c in cases if c["peer"] != "iceoryx"]
    if any(c.get("runner") == "python" for c in cases):
        peers = python_peers_available(args.python, args.python_path) if args.python_path \
            else []
        if "shmbus" not in peers:
            print("sweep: no --python-path, or shmbus's Python package does not import there: "
                  "leaving out the python cases")
            peers = []
        elif "zmq" not in peers:
            print(f"sweep: {args.python} cannot import zmq (Debian: python3-zmq): leaving out "
                  "the python zmq cases")
        cases = [c for c in cases if c.get("runner") != "python" or c["peer"] in peers]
    wait = not (args.quick or args.no_wait)
    results_path = os.path.join(args.results, "results.jsonl")
    failures = 0
    try:
        for run in range(1, args.runs + 1):
            if wait:
                quiet.wait_until_quiet(strict=True)
            start = {"run": run, "event": "start", "time": time.time(),
                     "load1": quiet.load_average()}
            print(f"run {run}/{args.runs}: {len(cases)} cases, load {start['load1']:.2f}",
                  flush=True)
            for index, case in enumerate(cases, 1):
                if case["peer"] == "iceoryx":
                    iceoryx.start()
                else:
                    iceoryx.stop()
                for attempt in range(1, ATTEMPTS + 1):
                    if wait:
                        quiet.wait_until_quiet(strict=False)
                    if case.get("runner") == "python":
                        result = run_python(args.python, args.python_path, case, timeout=600)
                    else:
                        result = run_harness(args.harness, case, timeout=600)
                    result.update({"run": run, "attempt": attempt})
                    result.update({k: case[k] for k in plan.SWEEP_ONLY_KEYS if k in case})
                    disturbed = disturbed_by_others(result, args.max_foreign)
                    result["disturbed"] = disturbed
                    if result.get("ok") and (not disturbed or not wait):
                        break
                    print(f"  [{index}] {case['group']} {case['label']}: "
                          f"{'disturbed' if disturbed else 'failed'} (attempt {attempt})",
                          flush=True)
                    if not disturbed:
                        break
                with open(results_path, "a") as f:
                    f.write(json.dumps(result) + "\n")
                failures += 0 if result.get("ok") else 1
                print(f"  [{index}/{len(cases)}] {case['group']:<22} {case['label']:<20} "
                      f"{case.get('size', '')!s:>6} {summary_of(result)}", flush=True)
            iceoryx.stop()
            if args.cli and not only:
                for label, group, arguments in CLI_CASES:
                    arguments = list(arguments)
                    if args.quick:
                        arguments[arguments.index("--count") + 1] = "20000"
                    for attempt in range(1, ATTEMPTS + 1):
                        if wait:
                            quiet.wait_until_quiet(strict=False)
                        result = run_cli(args.cli, arguments, timeout=600)
                        result.update({"label": label, "group": group, "run": run,
                                       "attempt": attempt})
                        disturbed = disturbed_by_others(result, args.max_foreign)
                        result["disturbed"] = disturbed
                        if not disturbed or not wait:
                            break
                    with open(results_path, "a") as f:
                        f.write(json.dumps(result) + "\n")
                    failures += 0 if result.get("ok") else 1
                    print(f"  cli {label:<30} {summary_of(result)}", flush=True)
            end = {"run": run, "event": "end", "time": time.time(), "load1": quiet.load_average()}
            with open(os.path.join(args.results, "runs.jsonl"), "a") as f:
                f.write(json.dumps(start) + "\n" + json.dumps(end) + "\n")
    finally:
        iceoryx.stop()

    if not args.skip_syscalls and not only:
        if wait:
            quiet.wait_until_quiet(strict=False)
        print("system calls per record (strace) ...", flush=True)
        counted = {"streams": [], "wakeups": None}
        rows = [r for r in syscalls.STREAM_ROWS
                if r[1]["peer"] != "iceoryx" or iceoryx.available()]
        for label, options in rows:
            if options["peer"] == "iceoryx":
                iceoryx.start()
            try:
                counted["streams"].append(syscalls.per_record(args.harness, label, options))
            except RuntimeError as error:
                counted["streams"].append({"label": label, "error": str(error)})
                failures += 1
            finally:
                iceoryx.stop()
            print(f"  {label:<22} {counted['streams'][-1].get('per_record')}", flush=True)
        counted["wakeups"] = syscalls.futex_per_wakeup(args.harness)
        print(f"  futex wakes per sleep: {counted['wakeups']['wakes_per_sleep']}", flush=True)
        with open(os.path.join(args.results, "syscalls.json"), "w") as f:
            json.dump(counted, f, indent=2)
    if args.instructions and not only:
        print("instructions per record (callgrind) ...", flush=True)
        try:
            rows = instruction_counts.instructions(args.instructions, args.results)
            with open(os.path.join(args.results, "instructions.json"), "w") as f:
                json.dump(rows, f, indent=2)
        except (RuntimeError, OSError) as error:
            print(f"  failed: {error}", flush=True)
            failures += 1
    print(f"sweep: done, {failures} failed case(s); results in {args.results}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
