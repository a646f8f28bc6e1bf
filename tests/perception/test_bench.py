"""The perception benchmark's "one core" is one CPU for every thread of the process."""

from __future__ import annotations

import os
import threading

import pytest

from embodied_stack.perception.bench import _threads, one_core

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform"
)


def test_one_core_pins_every_thread_and_restores_them() -> None:
    started, stop = threading.Event(), threading.Event()

    def worker() -> None:  # stands for a thread pool started before the benchmark (BLAS)
        started.set()
        stop.wait(10.0)

    thread = threading.Thread(target=worker)
    thread.start()
    started.wait(10.0)
    before = {tid: os.sched_getaffinity(tid) for tid in _threads()}
    try:
        with one_core() as pinned:
            cpu = min(os.sched_getaffinity(0))
            assert pinned == f"cpu {cpu}"
            assert all(os.sched_getaffinity(tid) == {cpu} for tid in _threads())
            assert thread.native_id in _threads()
        after = {tid: os.sched_getaffinity(tid) for tid in _threads()}
        assert {tid: after[tid] for tid in before if tid in after} == {
            tid: cpus for tid, cpus in before.items() if tid in after
        }  # (threads of others may come and go meanwhile)
        assert after[thread.native_id] == before[thread.native_id]
    finally:
        stop.set()
        thread.join()
