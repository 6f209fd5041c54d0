"""Worker pools freeze the parent's objects for the cyclic collector while they live (so a worker's collections
do not copy the inherited heap page by page), and unfreeze them afterwards."""

import gc

import pytest

from anchoring.workers import bounded_map, process_pool


def _frozen_in_worker(_: int) -> int:
    return gc.get_freeze_count()


def test_a_pool_freezes_the_parents_objects_while_it_lives() -> None:
    held = [[i] for i in range(1000)]  # tracked objects the workers inherit
    assert gc.get_freeze_count() == 0
    with process_pool() as pool:
        assert gc.get_freeze_count() >= len(held)
        in_workers = list(pool.map(_frozen_in_worker, range(4)))
    assert min(in_workers) >= len(held)  # what the workers inherited is frozen there too
    assert gc.get_freeze_count() == 0  # and collectable again here


def test_unfrozen_even_when_a_job_fails() -> None:
    with pytest.raises(ZeroDivisionError):
        list(bounded_map(_reciprocal, [1, 0, 2]))
    assert gc.get_freeze_count() == 0


def _reciprocal(x: int) -> float:
    return 1 / x
