"""Start-up of a command: the cyclic garbage collector waits until Django's apps are loaded.

Loading every app's models and ready() leaves some 10^5 objects (modules, classes, functions) that live as long as
the process, and frees next to nothing; with the collector on, it traverses them again and again while they are
made (about 8% of a job command's start). `manage.py` pauses it before Django is imported; `CoreConfig.ready()`
resumes it with the start-up objects frozen (`gc.freeze()`: kept out of every later collection, as they would
survive each one anyway), so the first collection does not walk them all either. Processes not started by
`manage.py` (gunicorn, pytest) never pause it, and `resume()` leaves them alone.
"""

from __future__ import annotations

import gc

_paused = False


def pause_gc() -> None:
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume_gc() -> None:
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
