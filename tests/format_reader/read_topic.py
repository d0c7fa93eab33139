#!/usr/bin/env python3
"""Reads a quiescent shmbus topic (format 3) as docs/FORMAT.md describes it, and prints one JSON
object per record, from the oldest intact record on, in the shape `shmbus sub --from earliest
--format json` prints.

Written from docs/FORMAT.md alone, with the Python standard library only, as a proof that the
document is enough to read a topic. It needs only the records file. Every value read from the
file is untrusted: each is checked before it is used, and every walk is bounded by the ring.

Exit status:
  0  read to the tail
  1  usage, or the file could not be read
  2  not a topic this reader reads (the header is refused; the message says why)
  3  stopped before the tail: a claim in flight, or corrupt bytes with nothing to resume at
  4  read to the tail, but skipped corrupt frames
"""

import argparse
import base64
import json
import os
import re
import stat
import struct
import sys

FORMAT_VERSION = 3
RECORDS_MAGIC = b"SHMBUSRC"
HEADER_SIZE = 4096
PAGE = 4096
MIN_CAPACITY = 1024
MAX_CAPACITY = 1 << 40
MAX_RECORD_LIMIT = 1 << 30
MAX_SLOTS = 512
KNOWN_FLAGS = 0b11  # bit 0: timestamps; bit 1: fenced commits (a rule for publishers only)
MAX_TAIL = 1 << 62
STAMP_KEY = 0xC5A3 << 48
FRAME_HEADER = 24
NO_STAMP, CLAIMED, COMMITTED, PADDING, WRAP = 0, 1, 2, 3, 4
SCAN_CHUNK = 1 << 20
TOPIC_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,62}")


class Refused(Exception):
    """The file is not a topic this reader reads (exit 2)."""


class Stopped(Exception):
    """The walk cannot go on (exit 3)."""


def align8(value):
    return (value + 7) & ~7


def round_up(value, unit):
    return (value + unit - 1) // unit * unit


def state_at(word, position):
    """The state `word` stamps for exactly `position`, or NO_STAMP."""
    plain = word ^ STAMP_KEY
    state = plain & 7
    if plain & ~7 != position or state > WRAP:
        return NO_STAMP
    return state


class Topic:
    def __init__(self, directory, name):
        path = os.path.join(directory, name, "records")
        self.fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        info = os.fstat(self.fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(f"{path} is not a regular file")
        self.path = path
        self.file_size = info.st_size
        header = self.read(0, HEADER_SIZE)
        self.header = header
        self.validate(header)
        self.check_state(os.path.join(directory, name, "state"))

    def read(self, offset, length):
        data = os.pread(self.fd, length, offset)
        if len(data) != length:
            raise Refused(f"{self.path}: {len(data)} bytes at offset {offset}, {length} expected "
                          "(the file is shorter than its header says)")
        return data

    def u64(self, offset):
        return struct.unpack("<Q", self.read(offset, 8))[0]

    def validate(self, h):
        magic = h[0:8]
        version, header_size = struct.unpack_from("<II", h, 8)
        file_size, ring_offset, capacity, slots_offset = struct.unpack_from("<QQQQ", h, 16)
        max_record, max_publishers, max_subscribers, policy = struct.unpack_from("<IIII", h, 48)
        (flags,) = struct.unpack_from("<I", h, 64)
        if magic != RECORDS_MAGIC:
            raise Refused("not a shmbus records file (wrong magic)")
        if version != FORMAT_VERSION:
            raise Refused(f"format version {version}, but this reader reads version "
                          f"{FORMAT_VERSION}")
        if header_size != HEADER_SIZE:
            raise Refused(f"header size {header_size} (expected {HEADER_SIZE})")
        if not (MIN_CAPACITY <= capacity <= MAX_CAPACITY) or capacity & (capacity - 1):
            raise Refused(f"capacity {capacity} is not a power of two from 1 KiB to 1 TiB")
        record_header = FRAME_HEADER + (8 if flags & 1 else 0)
        if max_record > MAX_RECORD_LIMIT or align8(record_header + max_record) > capacity // 4:
            raise Refused(f"max record size {max_record} is too large for capacity {capacity}")
        if not 1 <= max_publishers <= MAX_SLOTS:
            raise Refused(f"max publishers {max_publishers} is not between 1 and {MAX_SLOTS}")
        if not 1 <= max_subscribers <= MAX_SLOTS:
            raise Refused(f"max subscribers {max_subscribers} is not between 1 and {MAX_SLOTS}")
        if policy not in (0, 1):
            raise Refused(f"policy {policy} is unknown")
        if flags & ~KNOWN_FLAGS:
            raise Refused(f"flags {flags:#x} include bits this reader does not know")
        expected_ring = round_up(HEADER_SIZE + max_publishers * 64, PAGE)
        if slots_offset != HEADER_SIZE or ring_offset != expected_ring:
            raise Refused("inconsistent offsets in the header")
        if file_size != expected_ring + capacity:
            raise Refused(f"header declares {file_size} bytes but its parameters need "
                          f"{expected_ring + capacity}")
        if self.file_size != file_size:
            raise Refused(f"file is {self.file_size} bytes on disk, {file_size} expected")
        if b"\0" not in h[320:384]:
            raise Refused("topic name field is not terminated")
        # Private copies: nothing below reads a parameter from the file again.
        self.capacity = capacity
        self.ring_offset = ring_offset
        self.max_record = max_record
        self.max_publishers = max_publishers
        self.max_subscribers = max_subscribers
        self.record_header = record_header
        self.timestamps = bool(flags & 1)

    def check_state(self, path):
        """Refuses the topic as a client would for its state file (docs/FORMAT.md, "Opening a
        topic", step 9), without writing: a file that a client would restore first (short, or
        its magic zero) is judged as it would be after restoring."""
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise Refused(f"{path} is not a regular file")
            line = os.pread(fd, 64, 0).ljust(64, b"\0")
        finally:
            os.close(fd)
        h = self.header
        max_subscribers, max_publishers = self.max_subscribers, self.max_publishers
        waits = HEADER_SIZE + max_subscribers * 128
        size = round_up(waits + max_publishers * 64, PAGE)
        expected = (b"SHMBUSST" + struct.pack("<IIQ", FORMAT_VERSION, HEADER_SIZE, size) +
                    h[80:96] + struct.pack("<IIQQ", max_subscribers, max_publishers,
                                           HEADER_SIZE, waits))
        if line[0:8] == bytes(8):
            line = expected  # a restorer writes it again
        if line[0:8] != b"SHMBUSST":
            raise Refused(f"{path}: not a shmbus state file (wrong magic)")
        (version,) = struct.unpack_from("<I", line, 8)
        if version != FORMAT_VERSION:
            raise Refused(f"{path}: format version {version}, but this reader reads version "
                          f"{FORMAT_VERSION}")
        if line[12:16] != expected[12:16]:
            raise Refused(f"{path}: header size is not {HEADER_SIZE}")
        if line[24:40] != expected[24:40]:
            raise Refused(f"{path}: belongs to a different topic than the records file")
        if line != expected:
            raise Refused(f"{path}: layout does not match the records file")
        if max(info.st_size, size) != size:
            raise Refused(f"{path}: {info.st_size} bytes on disk, {size} expected")

    # The ring, by position.
    def room(self, position):
        return self.capacity - (position & (self.capacity - 1))

    def ring(self, position, length):
        """`length` bytes from `position`, which stay within its lap (the caller checked)."""
        assert length <= self.room(position)
        return self.read(self.ring_offset + (position & (self.capacity - 1)), length)

    def commit_word(self, position):
        return struct.unpack("<Q", self.ring(position, 8))[0]

    def frame_size(self, length):
        return align8(self.record_header + length)

    def find_boundary(self, start, limit):
        """The first p in [start, limit), a multiple of 8, stamped for itself; else limit.
        `start` and `limit` are within one lap or at its end; `limit` (a tail) may be no multiple
        of 8, and the word at a p just below it is looked at too."""
        p = start
        while p < limit:
            count = (min(limit - p, SCAN_CHUNK) + 7) // 8
            words = struct.unpack(f"<{count}Q", self.ring(p, count * 8))
            for i, word in enumerate(words):
                if state_at(word, p + 8 * i) != NO_STAMP:
                    return p + 8 * i
            p += count * 8
        return limit

    def attached_intents(self):
        """The claim intents of the publisher slots in the attached-publishers mask."""
        words = struct.unpack_from("<8Q", self.header, 384)
        for index in range(self.max_publishers):
            if words[index // 64] >> (index % 64) & 1:
                yield self.u64(HEADER_SIZE + 64 * index + 16)

    def in_flight(self, t, tail):
        """The oldest claim in flight: docs/FORMAT.md, "Reading a topic", step 3."""
        oldest = t
        for intent in self.attached_intents():
            if intent >= oldest or intent % 8 or intent + self.capacity < tail:
                continue
            if state_at(self.commit_word(intent), intent) in (NO_STAMP, CLAIMED):
                oldest = intent
        return oldest

    def oldest_intact(self, t, tail):
        if t <= self.capacity:
            return 0
        start = t - self.capacity
        limit = min(start + self.room(start), t)
        floor = struct.unpack_from("<Q", self.header, 192)[0]
        if start <= floor < limit and floor % 8 == 0:
            limit = floor
        flight = self.in_flight(t, tail)
        if start <= flight < limit:
            limit = flight
        return self.find_boundary(start, limit)

    def classify(self, p):
        """(kind, length, next) for the frame at p; kind is one of 'record', 'padding', 'wrap',
        'claimed', 'unwritten', 'corrupt'."""
        room = self.room(p)
        state = state_at(self.commit_word(p), p)
        if state == NO_STAMP:
            return "unwritten", 0, 0
        if state == WRAP:
            return "wrap", 0, p + room
        if room < FRAME_HEADER:
            return "corrupt", 0, 0
        if state == CLAIMED:
            return "claimed", 0, 0
        length = struct.unpack("<I", self.ring(p + 8, 4))[0]
        if state == PADDING:
            if length % 8 or length > room - FRAME_HEADER:
                return "corrupt", length, 0
            return "padding", length, p + FRAME_HEADER + length
        if length > self.max_record or self.frame_size(length) > room:
            return "corrupt", length, 0
        return "record", length, p + self.frame_size(length)

    def record(self, p, length, next_position):
        frame = self.ring(p, self.frame_size(length))
        publisher = struct.unpack_from("<H", frame, 12)[0]
        sequence = struct.unpack_from("<Q", frame, 16)[0]
        timestamp = struct.unpack_from("<Q", frame, 24)[0] if self.timestamps else 0
        payload = frame[self.record_header:self.record_header + length]
        return {
            "sequence": sequence,
            "position": p,
            "next_position": next_position,
            "timestamp_ns": timestamp,
            "publisher": publisher,
            "length": length,
            "payload_base64": base64.b64encode(payload).decode("ascii"),
        }

    def skip(self, p, tail):
        """Where to resume after the corrupt frame (or non-frame) at p, or None: stay."""
        lap_end = p + self.room(p)
        end = min(tail, lap_end)
        if end <= p:
            return None
        resume = self.find_boundary(p + 8, end)
        if resume == end and end != lap_end:
            return None
        return resume

    def walk(self, emit, warn):
        """Hands every record from the oldest intact one on to `emit`. Returns the number of
        corrupt frames skipped; raises Stopped where the walk cannot go on."""
        tail = min(struct.unpack_from("<Q", self.header, 128)[0], MAX_TAIL)
        t = tail & ~7
        p = self.oldest_intact(t, tail)
        corrupt = 0
        for _ in range(2 * self.capacity // 8 + 2):
            kind, length, next_position = self.classify(p)
            if kind == "record":
                emit(self.record(p, length, next_position))
                p = next_position
                continue
            if kind in ("padding", "wrap"):
                p = next_position
                continue
            if kind == "claimed":
                raise Stopped(f"a claim in flight at position {p} (tail {tail})")
            if kind == "unwritten":
                if p >= tail:
                    return corrupt
                if p in set(self.attached_intents()):
                    raise Stopped(f"a claim in flight at position {p}, its header not written "
                                  f"(tail {tail})")
            resume = self.skip(p, tail)
            if resume is None:
                what = "no frame starts" if kind == "unwritten" else "a corrupt frame"
                raise Stopped(f"{what} at position {p}, and no frame after it to resume at "
                              f"before the tail {tail}")
            what = "no frame starts" if kind == "unwritten" else f"corrupt frame (length {length})"
            warn(f"{what} at position {p}; resuming at {resume}")
            corrupt += 1
            p = resume
        raise Stopped(f"the walk did not end within {2 * self.capacity // 8 + 2} frames")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", required=True, help="the bus directory")
    parser.add_argument("topic", help="the topic's name")
    args = parser.parse_args()

    def warn(message):
        print(f"read_topic: {args.topic}: {message}", file=sys.stderr)

    out = sys.stdout

    def emit(record):
        # `sub` names each record's topic first: the name it was opened by, which is not read
        # from the file.
        out.write(json.dumps({"topic": args.topic, **record}, separators=(",", ":")) + "\n")

    if not TOPIC_NAME.fullmatch(args.topic) or ".." in args.topic:
        warn("not a topic name (1-63 of [A-Za-z0-9._-], not starting with '.' or '-', no '..')")
        return 1
    try:
        topic = Topic(args.dir, args.topic)
        corrupt = topic.walk(emit, warn)
    except Refused as error:
        warn(str(error))
        return 2
    except Stopped as error:
        out.flush()
        warn(f"stopped: {error}")
        return 3
    except BrokenPipeError:
        return 0
    except OSError as error:
        warn(str(error))
        return 1
    out.flush()
    if corrupt:
        warn(f"skipped {corrupt} corrupt frames")
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
