"""Worker processes for the CPU-bound parts of a batch (the Merkle tree, writing and checking receipts) on every core.

Invariant: a worker never outlives the process that started it. A pool's workers otherwise sit forever
on their task queue when the parent is SIGKILLed (they hold the queue's other end themselves); here each
worker watches its parent and exits as soon as it is gone.
"""

import gc
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

J = TypeVar("J")
R = TypeVar("R")


def _exit_with_parent() -> None:
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def cores() -> int:
    return os.cpu_count() or 1


@contextmanager
def process_pool() -> Iterator[ProcessPoolExecutor]:
    """A pool with one worker a core, forked (no re-import), each worker ending with its parent.

    While the pool lives, the objects this process holds are frozen for the cyclic collector (`gc.freeze`):
    a worker inherits them, and its collections would otherwise walk every one of them, writing to each
    and so copying, page by page, the parent's whole heap (a million records and receipts' worth) into every
    worker. Nothing is lost: they are unfrozen, and collectable again, when the pool is shut down."""
    context = multiprocessing.get_context("fork")
    gc.freeze()
    try:
        with ProcessPoolExecutor(max_workers=cores(), mp_context=context, initializer=_exit_with_parent) as pool:
            yield pool
    finally:
        gc.unfreeze()


def parallel_map(function: Callable[[J], R], jobs: list[J]) -> Iterator[R]:
    """`map` over every core once there is more than one job; results in the order of `jobs`."""
    if len(jobs) < 2 or cores() < 2:
        yield from map(function, jobs)
        return
    with process_pool() as pool:
        yield from pool.map(function, jobs)


def bounded_map(function: Callable[[J], R], jobs: Iterable[J], window: int = 0) -> Iterator[R]:
    """`parallel_map` over a stream of jobs, at most `window` (default: two a core) submitted and not yet
    yielded, so a large batch's jobs (and their results) need not all be in memory at once."""
    if cores() < 2:
        yield from map(function, jobs)
        return
    pending: deque[Future[R]] = deque()
    with process_pool() as pool:
        for job in jobs:
            pending.append(pool.submit(function, job))
            if len(pending) >= (window or 2 * cores()):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
