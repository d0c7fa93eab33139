"""Instructions per record, from callgrind: shmbus's publish paths and poll against the
reference ring, each side on its own (bench/studies/instruction_count.cpp). Exact and
repeatable, unlike times; they say how much work each side does, not how long cache lines take
to move between cores.

For each variant it also keeps callgrind's per-source-line annotation of shmbus's code, so a
missed target can be traced to the lines that cost it (instructions.<variant>.<side>.txt).
"""

import os
import re
import subprocess

VARIANTS = [
    ("reference", ["--peer", "reference"]),
    ("shmbus batch", ["--peer", "shmbus", "--api", "batch", "--timestamps", "on"]),
    ("shmbus single", ["--peer", "shmbus", "--api", "single", "--timestamps", "on"]),
    ("shmbus batch ts-off", ["--peer", "shmbus", "--api", "batch", "--timestamps", "off"]),
    ("shmbus single ts-off", ["--peer", "shmbus", "--api", "single", "--timestamps", "off"]),
]
COUNT = 32768


def count(binary, arguments, phase, out_dir, name):
    out = os.path.join(out_dir, f"callgrind.{name}.{phase}")
    command = ["valgrind", "--tool=callgrind", "--dump-instr=yes", f"--callgrind-out-file={out}",
               f"--toggle-collect=*{phase}_phase*", binary, "--count", str(COUNT)] + arguments
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    match = re.search(r"Collected\s*:\s*(\d+)", done.stderr)
    if done.returncode != 0 or not match:
        raise RuntimeError(f"{' '.join(command)}: {done.stderr[-500:]}")
    annotated = subprocess.run(["callgrind_annotate", "--auto=yes", out], capture_output=True,
                               text=True).stdout
    with open(os.path.join(out_dir, f"instructions.{name}.{phase}.txt"), "w") as f:
        f.write(annotated)
    os.remove(out)
    return int(match.group(1)) / COUNT


def instructions(binary, out_dir, sizes=(64, 4096)):
    rows = []
    for size in sizes:
        for label, arguments in VARIANTS:
            if label.endswith("ts-off") and size != 64:
                continue
            name = re.sub(r"[^a-z0-9]+", "-", f"{label} {size}").strip("-")
            args = arguments + ["--size", str(size)]
            rows.append({"label": label, "size": size,
                         "writer": round(count(binary, args, "publish", out_dir, name), 1),
                         "reader": round(count(binary, args, "receive", out_dir, name), 1)})
    return rows
