#!/usr/bin/env python3
"""The archive's benchmarks (issue 22): runs shmbus-archive-bench and dd, prints Markdown.

Every measurement runs --runs times (default 3); each ratio is taken against its reference
measured in the same run (dd on the same file system, or the same stream without a recorder),
then the median over the runs is shown with the spread [min–max]. With --write-doc, the
"Archive" section and the archive rows of "Targets" in docs/BENCHMARKS.md are rewritten
between their markers (report.py keeps them when it regenerates the rest).

    bench/tools/archive_bench.py --build build-ab --dir /var/tmp/shmbus-archbench --write-doc
"""

import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "docs", "BENCHMARKS.md")
MARKS = {
    "targets": ("<!-- archive-targets:begin (bench/tools/archive_bench.py) -->",
                "<!-- archive-targets:end -->"),
    "section": ("<!-- archive:begin (bench/tools/archive_bench.py) -->", "<!-- archive:end -->"),
    # Hand-written, after the section: where the time goes for the targets missed. Neither
    # this script nor report.py rewrites it; both keep it.
    "analysis": ("<!-- archive-analysis:begin (hand-written) -->", "<!-- archive-analysis:end -->"),
}


def sh(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out.stdout + out.stderr


def bench(binary, *args):
    line = sh([binary, *map(str, args)]).strip().splitlines()[-1]
    return {k: (float(v) if re.fullmatch(r"[0-9.]+", v) else v)
            for k, v in (field.split("=", 1) for field in line.split())}


def dd_rate(args):
    """Bytes/s from dd's own summary line ('N bytes ... copied, S s, ...')."""
    text = sh(["dd", *args])
    m = re.search(r"^(\d+) bytes .* copied, ([0-9.e+-]+) s", text, re.M)
    return int(m.group(1)) / float(m.group(2))


def filesystem(path):
    return sh(["findmnt", "-no", "FSTYPE,SOURCE", "--target", path]).split()


def one_run(binary, scratch, lookup_dir, sizes):
    """One run of every measurement; returns {name: value}."""
    r = {}
    ref = os.path.join(scratch, "dd.ref")
    mib = sizes["dd_mib"]
    # 1. Recording 4 KiB records vs dd, both ending with fdatasync.
    r["dd_write"] = dd_rate(["if=/dev/zero", f"of={ref}", "bs=1M", f"count={mib}",
                             "conv=fdatasync"])
    d = os.path.join(scratch, "rec4k")
    x = bench(binary, "record", 4096, sizes["records_4k"], d)
    r["rec4k_bytes"], r["rec4k_pc_bytes"] = x["bytes_per_s"], x["page_cache_bytes_per_s"]
    # 4b. Cold replay vs dd's direct read of a file as large.
    r["dd_direct"] = dd_rate([f"if={ref}", "of=/dev/null", "bs=1M", "iflag=direct"])
    # The same read through the page cache (readahead, as the archive's reader gets), the file
    # dropped from the cache first: the stricter reference of the two where it is faster.
    sh(["dd", f"if={ref}", "iflag=nocache", "count=0"])
    r["dd_buffered"] = dd_rate([f"if={ref}", "of=/dev/null", "bs=1M"])
    r["dd_read"] = max(r["dd_direct"], r["dd_buffered"])
    os.remove(ref)
    x = bench(binary, "replay", d, "cold")
    r["cold4k_bytes"], r["cold4k_records"] = x["bytes_per_s"], x["records_per_s"]
    shutil.rmtree(d)
    # 2. Recording 64 B records; its archive is the one replayed at 64 B.
    d = os.path.join(scratch, "rec64")
    x = bench(binary, "record", 64, sizes["records_64"], d)
    r["rec64_records"], r["rec64_pc_records"] = x["records_per_s"], x["page_cache_records_per_s"]
    # 4. Replay at 64 B, warm and cold.
    x = bench(binary, "replay", d)
    r["warm64_records"] = x["records_per_s"]
    x = bench(binary, "replay", d, "cold")
    r["cold64_bytes"], r["cold64_records"] = x["bytes_per_s"], x["records_per_s"]
    shutil.rmtree(d)
    # 3. The live topic with and without a recorder.
    r["live_without"] = bench(binary, "live", 64, sizes["live"])["records_per_s"]
    d = os.path.join(scratch, "live")
    r["live_with"] = bench(binary, "live", 64, sizes["live"], d)["records_per_s"]
    shutil.rmtree(d)
    # 5. Lookups in the lookup archive, a fresh process each, warm and cold page cache.
    for mode in ("warm", "cold"):
        extra = ["cold"] if mode == "cold" else []
        x = bench(binary, "lookup", lookup_dir, sizes["lookups"], *extra)
        r[f"time_{mode}"], r[f"seq_{mode}"] = x["time_median_us"], x["seq_median_us"]
        r[f"time_{mode}_p99"], r[f"seq_{mode}_p99"] = x["time_p99_us"], x["seq_p99_us"]
        r["lookup_segments"], r["lookup_records"] = x["segments"], x["records"]
    return r


def spread(values, fmt):
    values = sorted(values)
    return f"{fmt(statistics.median(values))} [{fmt(values[0])}–{fmt(values[-1])}]"


def gbs(x):
    return f"{x / 1e9:.2f} GB/s"


def mrs(x):
    return f"{x / 1e6:.2f} M/s"


def us(x):
    return f"{x:.0f} µs"


def ratio(x):
    return f"{x:.2f}×"


def tables(runs, machine):
    col = lambda k: [run[k] for run in runs]  # noqa: E731
    rat = lambda a, b: [run[a] / run[b] for run in runs]  # noqa: E731
    med = lambda v: statistics.median(v)  # noqa: E731
    gib = machine["lookup_gib"]
    verdict = lambda ok: "**met**" if ok else "**missed**"  # noqa: E731

    dd_read = ("dd read, iflag=direct: " + spread(col("dd_direct"), gbs) + "; buffered, cold: " +
               spread(col("dd_buffered"), gbs) + "; ratio against the faster")
    rows = []  # (what, measured, reference, ratio text, target text, met)
    rows.append(("Recording a 4 KiB stream, archive bytes/s incl. fdatasync",
                 spread(col("rec4k_bytes"), gbs),
                 "dd write, conv=fdatasync: " + spread(col("dd_write"), gbs),
                 spread(rat("rec4k_bytes", "dd_write"), ratio), "≥ 0.80×",
                 med(rat("rec4k_bytes", "dd_write")) >= 0.8))
    rows.append(("Recording a 64 B stream, records/s incl. fdatasync",
                 spread(col("rec64_records"), mrs), "–", "–", "≥ 5 M/s",
                 med(col("rec64_records")) >= 5e6))
    rows.append(("Live 64 B stream (spinning subscriber) with a recorder attached / without",
                 spread(col("live_with"), mrs), "without: " + spread(col("live_without"), mrs),
                 spread(rat("live_with", "live_without"), ratio), "≥ 0.90×",
                 med(rat("live_with", "live_without")) >= 0.9))
    millions = machine["records_64"] // 1_000_000
    rows.append((f"Replay at 64 B, warm page cache ({millions} M records)",
                 spread(col("warm64_records"), mrs), "–", "–", "≥ 10 M/s",
                 med(col("warm64_records")) >= 10e6))
    rows.append(("Replay at 64 B, cold cache, archive bytes/s",
                 spread(col("cold64_bytes"), gbs), dd_read,
                 spread(rat("cold64_bytes", "dd_read"), ratio), "≥ 0.80×",
                 med(rat("cold64_bytes", "dd_read")) >= 0.8))
    rows.append(("Replay at 4 KiB, cold cache, archive bytes/s",
                 spread(col("cold4k_bytes"), gbs), dd_read,
                 spread(rat("cold4k_bytes", "dd_read"), ratio), "≥ 0.80×",
                 med(rat("cold4k_bytes", "dd_read")) >= 0.8))
    for mode, what in (("warm", "indexes cached"), ("cold", "page cache dropped first")):
        lookups = machine["lookups"]
        rows.append((f"`sequence_at_time` in a {gib} GiB archive, median of {lookups}, {what}",
                     spread(col(f"time_{mode}"), us) +
                     f"; p99 {spread(col(f'time_{mode}_p99'), us)}",
                     "–", "–", "< 1 ms", med(col(f"time_{mode}")) < 1000))
        rows.append((f"ArchiveCursor at a sequence + first entry, {gib} GiB archive, {what}",
                     spread(col(f"seq_{mode}"), us) + f"; p99 {spread(col(f'seq_{mode}_p99'), us)}",
                     "–", "–", "< 1 ms", med(col(f"seq_{mode}")) < 1000))

    targets = ["| Archive target (issue 22) | Measured | Target | Verdict |", "|---|---|---|---|"]
    for what, measured, reference, rt, target, ok in rows:
        shown = rt if rt != "–" else measured.split(";")[0]
        targets.append(f"| {what} | {shown} | {target} | {verdict(ok)} |")
    table = ["| Measurement | Median [min–max] | Reference (same run) | Ratio | Target "
             "| Verdict |",
             "|---|---|---|---|---|---|"]
    for what, measured, reference, rt, target, ok in rows:
        table.append(f"| {what} | {measured} | {reference} | {rt} | {target} | {verdict(ok)} |")
    pc = (f"Page-cache rates (up to the last flush, before the fdatasync): 4 KiB "
          f"{spread(col('rec4k_pc_bytes'), gbs)}, 64 B {spread(col('rec64_pc_records'), mrs)}; "
          f"cold replay delivers {spread(col('cold64_records'), mrs)} records at 64 B, "
          f"{spread(col('cold4k_records'), mrs)} at 4 KiB.")
    missed = sum(1 for row in rows if not row[5])
    targets.append(f"\n{missed} archive target(s) missed: see [Archive](#archive) for the figures, "
                   "the method and where the time goes.")
    return "\n".join(targets), "\n".join(table), pc


def insert_block(content, key, text):
    """`content` with the block `key` holding `text`: replaced between its markers, or put
    where it belongs (the targets after the sweep's table, the section before "Not measured")."""
    begin, end = MARKS[key]
    block = f"{begin}\n{text}\n{end}"
    if begin in content:
        return re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, content,
                      flags=re.S)
    anchor = "\n## Latency\n" if key == "targets" else "\n## Not measured\n"
    return content.replace(anchor, f"\n{block}\n{anchor}", 1)


def kept_blocks(old, new):
    """`new` (a regenerated document) with the blocks `old` holds: for report.py."""
    for key, (begin, end) in MARKS.items():
        m = re.search(re.escape(begin) + r"\n(.*?)\n" + re.escape(end), old, re.S)
        if m:
            new = insert_block(new, key, m.group(1))
    return new


def rewrite(doc, key, text):
    with open(doc) as f:
        content = f.read()
    with open(doc, "w") as f:
        f.write(insert_block(content, key, text))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build-ab",
                    help="build tree holding bench/shmbus-archive-bench")
    ap.add_argument("--dir", default="/var/tmp/shmbus-archbench",
                    help="scratch directory on the disk measured (not tmpfs)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--lookup-gib", type=int, default=10)
    ap.add_argument("--keep-lookup-archive", action="store_true",
                    help="keep (and reuse) DIR/lookup, the 10 GiB archive")
    ap.add_argument("--write-doc", action="store_true",
                    help="rewrite the Archive parts of docs/BENCHMARKS.md")
    ap.add_argument("--quick", action="store_true", help="small sizes, to try the script")
    ap.add_argument("--render", metavar="JSON", nargs="+",
                    help="measure nothing: print (and --write-doc) the figures saved runs hold, "
                         "the runs of several files pooled")
    args = ap.parse_args()

    if args.render:
        render(pooled(args.render), args.write_doc)
        return
    binary = os.path.join(args.build, "bench", "shmbus-archive-bench")
    os.makedirs(args.dir, exist_ok=True)
    fs, device = filesystem(args.dir)
    if fs in ("tmpfs", "ramfs"):
        sys.exit(f"{args.dir} is on {fs}: give a directory on disk")
    sizes = {"dd_mib": 2048, "records_4k": 2048 * 1024 * 1024 // 4096, "records_64": 20_000_000,
             "live": 10_000_000, "lookups": 1000}
    if args.quick:
        sizes = {"dd_mib": 256, "records_4k": 65536, "records_64": 1_000_000, "live": 1_000_000,
                 "lookups": 100}
        args.lookup_gib = 1
    lookup_dir = os.path.join(args.dir, "lookup")
    if not os.path.isdir(lookup_dir):
        print(bench(binary, "build", lookup_dir, args.lookup_gib), file=sys.stderr)
    loads = []
    runs = []
    started = datetime.datetime.utcnow()
    try:
        for i in range(args.runs):
            before = os.getloadavg()[0]
            runs.append(one_run(binary, args.dir, lookup_dir, sizes))
            loads.append(f"run {i + 1}: load {before:.2f} → {os.getloadavg()[0]:.2f}")
            print(f"run {i + 1}: {runs[-1]}", file=sys.stderr)
    finally:
        if not args.keep_lookup_archive:
            shutil.rmtree(lookup_dir, ignore_errors=True)
    saved = {"runs": runs, "sizes": sizes, "loads": loads, "dir": args.dir, "fs": fs,
             "device": device, "lookup_gib": args.lookup_gib,
             "commit": sh(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]).strip(),
             "started": f"{started:%Y-%m-%d %H:%M}"}
    results = os.path.join(ROOT, "bench", "results")
    os.makedirs(results, exist_ok=True)
    with open(os.path.join(results, f"archive-{started:%Y%m%d-%H%M}.json"), "w") as f:
        json.dump(saved, f, indent=1)
    render(saved, args.write_doc)


def pooled(files):
    """The saved runs of `files` as one set: their runs and loads in order, the rest the
    first's, the commits and start times of all."""
    sets = []
    for name in files:
        with open(name) as f:
            sets.append(json.load(f))
    saved = dict(sets[0])
    saved["runs"] = [run for one in sets for run in one["runs"]]
    saved["loads"] = [load for one in sets for load in one["loads"]]
    saved["sets"] = len(sets)
    saved["commit"] = ", ".join(dict.fromkeys(one["commit"] for one in sets))
    saved["started"] = ", ".join(one["started"] for one in sets)
    return saved


def render(saved, write_doc):
    runs, sizes = saved["runs"], saved["sizes"]
    load_figures = [float(x) for load in saved["loads"] for x in re.findall(r"\d+\.\d+", load)]
    sets = (f" ({saved['sets']} sets of {len(runs) // saved['sets']} runs, started at those times)"
            if saved.get("sets", 1) > 1 else "")
    targets, table, pc = tables(runs, {"lookups": sizes["lookups"],
                                       "records_64": sizes["records_64"],
                                       "lookup_gib": saved["lookup_gib"]})
    live_m = sizes["live"] // 1_000_000
    records = f"{int(runs[0]['lookup_records']):,}"
    segments = int(runs[0]["lookup_segments"])
    gib, lookups, mib = saved["lookup_gib"], sizes["lookups"], sizes["dd_mib"]
    section = f"""## Archive

The archive's costs (issue 22), measured by `bench/tools/archive_bench.py` with
`shmbus-archive-bench` (`bench/studies/archive_bench.cpp`): {len(runs)} runs, each figure the
median with [min–max] over the runs, each ratio taken against its reference in the same run.
Scratch directory `{saved['dir']}` ({saved['fs']} on `{saved['device']}`); the machine of
[The machine](#the-machine) (2 CPUs, shared, not quiet: 1-minute load {min(load_figures):.1f}
to {max(load_figures):.1f} over the runs); shmbus commit {saved['commit']}, measured
{saved['started']} UTC{sets}.

**Method.** Recording: a publisher process on CPU 0 streams 32-record batches at full rate into a
block topic (default options, 1 MiB ring, timestamps on) and a `Recorder` on CPU 1 in the
measuring process archives them with the default `WriterOptions` (64 MiB segments, `kNone`),
stepping as `shmbus record` does; the time runs from the publisher's first claim to the last
flush **plus an fdatasync of every file of the archive**, so it compares with
`dd if=/dev/zero bs=1M count={mib} conv=fdatasync` (fio is not installed) on the same file
system; the archive's bytes (headers, padding and indexes included) are counted. The live case
is a publisher (CPU 0) and a spinning subscriber (CPU 1) streaming {live_m} M records of 64 B,
then the same with a `Recorder` attached as a second subscriber in the driver process
(unpinned: the machine has no third CPU). Replay reads the whole archive with an
`ArchiveCursor` from sequence 0, touching every payload; warm after one untimed pass, cold after
`fdatasync` and `posix_fadvise(POSIX_FADV_DONTNEED)` on every file (not `drop_caches`: the
machine is shared), against `dd bs=1M` reading a {mib} MiB file, both `iflag=direct` and through
the page cache after `dd iflag=nocache count=0` dropped it (readahead, as the archive's reader
has): the ratio is taken against the faster of the two in the run. Lookups: a {gib} GiB archive
of 4 KiB records ({records} records, {segments} segments) is written once and reused; each run
starts a fresh process that times {lookups} random `sequence_at_time` calls, then {lookups}
random `ArchiveCursor(dir, seq)` + first-entry reads, checking each answer; once after reading
the index files into the page cache (the segments as they are: {gib} GiB need not be cached),
once after dropping the whole archive from it.

{table}

{pc}

Reproduce (about 5 minutes, 12 GiB of scratch space, deleted afterwards):

```
cmake -S . -B build-ab -DCMAKE_BUILD_TYPE=Release -DSHMBUS_BUILD_BENCH=ON
cmake --build build-ab --target shmbus_archive_bench
bench/tools/archive_bench.py --build build-ab --dir /var/tmp/shmbus-archbench --write-doc
```

The runs are saved in `bench/results/archive-<date>.json`; `--render FILE... --write-doc`
rewrites this section from saved sets, their runs pooled, without measuring.
"""
    print(targets)
    print()
    print(section)
    if write_doc:
        rewrite(DOC, "targets", targets)
        rewrite(DOC, "section", section.rstrip())


if __name__ == "__main__":
    main()
