#!/bin/bash
# read_topic.py, written from docs/FORMAT.md alone, must print exactly what `shmbus sub --from
# earliest --format json` prints, record for record, for every topic make_topics builds (wrapped,
# overwritten, padded, repaired and edited rings, with and without timestamps), and both must
# refuse the topics whose header they cannot read.
#
#   reader_test.sh MAKE_TOPICS SHMBUS READ_TOPIC_PY
#
# Every field of `sub --format json` but the first, "topic" (the name both were given), comes
# from the records file, so the outputs must be equal byte for byte. `sub` never ends by itself:
# `--timeout 1` ends it with status 8 once it has been idle for a second, and `timeout` bounds
# every program run here.
set -u

if [ $# -ne 3 ]; then
    echo "usage: $0 MAKE_TOPICS SHMBUS READ_TOPIC_PY" >&2
    exit 2
fi
make_topics=$1
shmbus=$2
reader=$3

if ! command -v python3 >/dev/null 2>&1; then
    echo "skipped: python3 is not installed, and read_topic.py needs it"
    exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/shmbus-format-reader.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
bus=$work/bus
mkdir "$bus"

if ! timeout 120 "$make_topics" "$bus" >"$work/topics"; then
    echo "FAIL: make_topics could not build the topics"
    exit 1
fi

failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

while read -r topic want_reader want_sub; do
    timeout 60 python3 "$reader" --dir "$bus" "$topic" >"$work/$topic.reader" \
        2>"$work/$topic.reader.err"
    got_reader=$?
    timeout 30 "$shmbus" --dir "$bus" sub "$topic" --from earliest --format json --timeout 1 \
        >"$work/$topic.sub" 2>"$work/$topic.sub.err"
    got_sub=$?
    records=$(wc -l <"$work/$topic.sub")

    if [ "$got_reader" != "$want_reader" ]; then
        fail "$topic: read_topic.py exited $got_reader, expected $want_reader"
        cat "$work/$topic.reader.err"
    fi
    if [ "$got_sub" != "$want_sub" ]; then
        fail "$topic: shmbus sub exited $got_sub, expected $want_sub"
        cat "$work/$topic.sub.err"
    fi
    if [ "$want_sub" = 8 ] && [ "$records" -eq 0 ]; then
        fail "$topic: shmbus sub printed no record"
    fi
    if ! cmp -s "$work/$topic.reader" "$work/$topic.sub"; then
        fail "$topic: read_topic.py and shmbus sub disagree (< read_topic.py, > shmbus sub):"
        diff "$work/$topic.reader" "$work/$topic.sub" | head -n 20
    fi
    echo "$topic: $records records; read_topic.py exited $got_reader, shmbus sub $got_sub"
done <"$work/topics"

topics=$(wc -l <"$work/topics")
if [ "$topics" -lt 12 ]; then
    fail "make_topics reported only $topics topics"
fi
if [ "$failures" -ne 0 ]; then
    echo "$failures failures"
    exit 1
fi
echo "read_topic.py agrees with shmbus sub on all $topics topics"
