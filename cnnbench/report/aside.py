"""Work handed to a forked worker process while this one goes on, so that a report uses two cores.

A report's steps (pandas grouping, bootstrap arrays, matplotlib drawing) hold the GIL, so threads would
not overlap them. A forked child starts with this process's memory: the records frame is neither copied
nor pickled, only the result comes back (pickled, through :class:`concurrent.futures.ProcessPoolExecutor`,
which also raises the worker's exception here). Only on Linux (:data:`FORKS`), where it is tested: macOS's
system libraries are not safe in a forked child and Windows does not fork; elsewhere the work is done
when its result is asked for, in this process, with the same result.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

#: whether work is handed to a forked process (see the module's docstring)
FORKS = sys.platform == "linux"
#: Linux's prctl option that sends the child a signal when its parent dies
_PR_SET_PDEATHSIG = 1
_held: tuple[Callable[..., Any], tuple[Any, ...]] | None = None


@contextlib.contextmanager
def aside(work: Callable[..., T], *args: Any) -> Iterator[Callable[[], T]]:
    """``work(*args)`` started in a forked worker; the block calls what this yields for the result.

    >>> with aside(sum, [1, 2, 3]) as total:   # doctest: +SKIP
    ...     other = compute_the_rest()           # in this process, meanwhile
    ...     print(total())                       # 6, computed in the worker
    """
    if not FORKS:
        yield lambda: work(*args)
        return
    gc.freeze()  # the child's collections then leave the parent's objects (and their pages) alone
    try:
        # the initializer's arguments reach the child through the fork, not through a pickle
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"), initializer=_hold, initargs=(work, args, os.getpid())) as pool:
            with warnings.catch_warnings():  # the worker is forked by the first submit
                # Python 3.12+ warns that forking a threaded process may deadlock the child: the child takes
                # no lock that pyarrow's or BLAS's threads could hold (both reset their pools at a fork)
                warnings.simplefilter("ignore", DeprecationWarning)
                later = pool.submit(_run_held)
            yield later.result
    finally:
        gc.unfreeze()


def _hold(work: Callable[..., Any], args: tuple[Any, ...], parent: int) -> None:
    """In the worker: keep the work, and die with the report (a killed report cannot stop its worker,
    which would wait for work for ever)."""
    global _held
    _held = (work, args)
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the report died before the line above
        os._exit(1)


def _run_held() -> Any:
    work, args = _held
    return work(*args)
