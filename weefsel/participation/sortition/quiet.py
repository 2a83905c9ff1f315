"""Keep solver chatter off stdout, so ``weefsel beraad --json`` prints pure JSON.

HiGHS writes its banner ("Running HiGHS ...") from C to file descriptor 1 the first time a
solver object is made, before any ``output_flag`` option can be set. Python's
``contextlib.redirect_stdout`` does not reach C code, so this moves descriptor 1 itself to
stderr while solving (and flushes C's stdio buffers before moving it back).
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def _flush_c_stdio() -> None:
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):       # no libc symbol table (e.g. Windows): nothing buffered to lose
        pass


@contextmanager
def c_stdout_to_stderr() -> Iterator[None]:
    """Inside the block, anything written to fd 1 (by C or Python) goes to stderr."""
    try:
        fd_out = sys.__stdout__.fileno() if sys.__stdout__ else 1
    except (OSError, ValueError):
        yield
        return
    sys.stdout.flush()
    _flush_c_stdio()
    saved = os.dup(fd_out)
    try:
        os.dup2(sys.__stderr__.fileno() if sys.__stderr__ else 2, fd_out)
        yield
    finally:
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
        _flush_c_stdio()
        os.dup2(saved, fd_out)
        os.close(saved)
