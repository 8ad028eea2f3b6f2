"""`debug.native`: libc's sleep(3) called through ctypes.PyDLL, which keeps the GIL for the call's
whole length (ctypes.CDLL would release it): no other thread of the worker's process runs meanwhile."""

from __future__ import annotations

import ctypes

from tasks.debug_native.spec import SPEC, NativeInput, NativeOutput
from workers.runtime import JobContext, job_task

_LIBC = ctypes.PyDLL(None)


@job_task(SPEC)
def hold_gil(ctx: JobContext, payload: NativeInput) -> NativeOutput:
    _LIBC.sleep(ctypes.c_uint(payload.seconds))
    return NativeOutput(held_gil_seconds=payload.seconds, attempt=ctx.attempt)
