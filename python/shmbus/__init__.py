"""shmbus: a shared-memory message bus for Linux, from Python.

Topics are rings of records in memory-mapped files; publishers in any process copy records in
(or write them in place), and every subscriber sees every record, zero-copy::

    import shmbus

    with shmbus.Topic.create("orders", "/tmp/bus", exist_ok=True) as topic:
        subscriber = shmbus.Subscriber(topic, start="earliest")
        publisher = shmbus.Publisher(topic)
        publisher.publish(b"hello")
        record = subscriber.receive(timeout=1.0)
        print(bytes(record.payload), record.sequence)

The classes come from the C extension ``shmbus._shmbus``, built on libshmbus's C API
(shmbus.h). This module adds :meth:`Subscriber.aiter` for asyncio. docs/PYTHON.md is the
reference, with the lifetime rules of records in place.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

from . import _shmbus
from ._shmbus import (
    C_ABI_VERSION,
    HEADER_VERSION,
    BackPressure,
    Busy,
    BufferInUseError,
    Claim,
    ClaimPending,
    Closed,
    Corrupt,
    Error,
    Evicted,
    Exists,
    FormatError,
    Forked,
    Incompatible,
    InternalError,
    InvalidArgument,
    NoClaim,
    NoMemory,
    NoSlot,
    NoSpace,
    NotFound,
    PermissionDenied,
    Publisher,
    Record,
    StaleRecordError,
    SystemFailure,
    Timeout,
    TooLarge,
    Topic,
    TopicLost,
    WouldBlock,
    format_version,
    strerror,
    version,
)

__version__ = version()

__all__ = [
    "BackPressure",
    "BufferInUseError",
    "Busy",
    "C_ABI_VERSION",
    "Claim",
    "ClaimPending",
    "Closed",
    "Corrupt",
    "Error",
    "Evicted",
    "Exists",
    "FormatError",
    "Forked",
    "HEADER_VERSION",
    "Incompatible",
    "InternalError",
    "InvalidArgument",
    "NoClaim",
    "NoMemory",
    "NoSlot",
    "NoSpace",
    "NotFound",
    "PermissionDenied",
    "Publisher",
    "Record",
    "StaleRecordError",
    "Subscriber",
    "SystemFailure",
    "Timeout",
    "TooLarge",
    "Topic",
    "TopicLost",
    "WouldBlock",
    "aiter",
    "format_version",
    "strerror",
    "version",
]


class Subscriber(_shmbus.Subscriber):
    __doc__ = _shmbus.Subscriber.__doc__

    def aiter(self) -> AsyncIterator[Record]:
        """An async iterator over this subscriber's records, for the running asyncio loop.

        It watches :meth:`fileno` with ``loop.add_reader`` and never blocks the loop: receive
        until empty, :meth:`arm`, receive once more if arm said something came, else await the
        descriptor. Records are in place, each valid until the next is asked for (as with
        iteration). The reader is removed when the iteration ends (``break``, an exception,
        ``aclose()``)::

            async for record in subscriber.aiter():
                handle(record.payload)
        """
        return aiter(self)


async def aiter(subscriber: _shmbus.Subscriber) -> AsyncIterator[Record]:
    """``subscriber.aiter()`` for any subscriber: see :meth:`Subscriber.aiter`."""
    loop = asyncio.get_running_loop()
    fd = subscriber.fileno()
    readable = asyncio.Event()
    loop.add_reader(fd, readable.set)
    try:
        while True:
            record = subscriber.receive(0)
            if record is not None:
                yield record
                continue
            # Empty. Arm the descriptor, and look again if something came meanwhile.
            if subscriber.arm():
                continue
            readable.clear()
            await readable.wait()
    finally:
        loop.remove_reader(fd)
