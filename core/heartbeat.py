"""A job is alive while its worker says so: a heartbeat written by its own thread for the job's whole life.

Lock waits, row counts, globals and uploads are silent; a heartbeat tied to bytes flowing declares them dead. The
thread here writes `heartbeat_at` every few seconds whatever the job is doing, with a conditional UPDATE (only while
the row is still `running`), so a job the reaper has already abandoned is never made to look alive again, and the
job can ask whether it was (`beat.lost`). Any model with `status` and `heartbeat_at` fields takes part.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection, models
from django.utils import timezone

log = logging.getLogger(__name__)

RUNNING = "running"


def beat_interval() -> float:
    """Five beats per stale period, between 0.2 s and 60 s: one missed write never makes a job look dead."""
    return min(60.0, max(0.2, settings.LIFEBOAT_HEARTBEAT_STALE_SECONDS / 5))


class Heartbeat(threading.Thread):
    def __init__(self, obj: models.Model, every: float) -> None:
        super().__init__(daemon=True, name=f"heartbeat-{type(obj).__name__.lower()}-{obj.pk}")
        self.rows = type(obj)._default_manager.filter(pk=obj.pk, status=RUNNING)
        self.every = every
        self.stopped = threading.Event()
        self.lost = threading.Event()  # set once the row stopped being `running` under us (reaped)

    def beat(self) -> bool:
        return self.rows.update(heartbeat_at=timezone.now()) > 0

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.every):
                try:
                    if not self.beat():
                        self.lost.set()
                        return
                except Exception:  # a busy database now and then: the next beat tries again
                    log.warning("heartbeat of %s not written", self.name, exc_info=True)
        finally:
            connection.close()  # this thread's own connection, never the job's


_beating: dict[tuple[str, object], Heartbeat] = {}


def start_heartbeat(obj: models.Model, every: float | None = None) -> Heartbeat:
    """Start beating for `obj` (see `heartbeat`); `stop_heartbeat(obj)` ends it. For jobs whose end is one
    function (restore's `_finish`) rather than one block."""
    thread = Heartbeat(obj, every or beat_interval())
    try:
        thread.beat()
    except Exception:
        log.warning("first heartbeat of %s not written", thread.name, exc_info=True)
    thread.start()
    _beating[(obj._meta.label, obj.pk)] = thread
    return thread


def stop_heartbeat(obj: models.Model) -> None:
    thread = _beating.pop((obj._meta.label, obj.pk), None)
    if thread is not None:
        thread.stopped.set()
        thread.join()


@contextmanager
def heartbeat(obj: models.Model, every: float | None = None) -> Iterator[Heartbeat]:
    """`with heartbeat(run):` keeps `run.heartbeat_at` fresh from start to end of the block; stops on exit."""
    thread = start_heartbeat(obj, every)
    try:
        yield thread
    finally:
        stop_heartbeat(obj)


def finish(obj: models.Model, status: str, **fields) -> bool:
    """running -> `status` with a conditional UPDATE; False when the job is no longer running (reaped meanwhile).

    The one way a job ends: an abandoned job can never come back as succeeded (or failed over its abandonment).
    """
    fields.setdefault("finished_at", timezone.now())
    done = type(obj)._default_manager.filter(pk=obj.pk, status=RUNNING).update(status=status, **fields) == 1
    if done:
        obj.status = status
        for name, value in fields.items():
            setattr(obj, name, value)
    return done


def error_text(exc: BaseException) -> str:
    """What an unexpected exception says, for the job's error field."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else repr(exc)
