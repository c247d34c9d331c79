"""``read_ahead``: items made in a thread, in order, errors and early stops passed on."""

from __future__ import annotations

import threading

import pytest

from kgbuild.store.base import read_ahead


def test_items_come_in_order_from_another_thread():
    threads = []

    def items():
        for i in range(5):
            threads.append(threading.current_thread())
            yield i

    assert list(read_ahead(items())) == [0, 1, 2, 3, 4]
    assert threading.current_thread() not in threads


def test_an_error_of_the_producer_comes_after_the_items_before_it():
    def items():
        yield "a"
        yield "b"
        raise ValueError("document 3 is bad")

    seen = []
    with pytest.raises(ValueError, match="document 3 is bad"):
        for item in read_ahead(items()):
            seen.append(item)
    assert seen == ["a", "b"]


def test_a_consumer_that_stops_early_stops_the_producer():
    made = []

    def items():
        for i in range(1000):
            made.append(i)
            yield i

    ahead = read_ahead(items(), depth=1)
    assert next(ahead) == 0
    ahead.close()  # joins the producer
    assert len(made) <= 3  # the one consumed, one waiting, one being made


def test_gc_paused_nests_and_restores_the_collector():
    import gc

    from kgbuild.store.base import gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # was off before: stays off
    finally:
        gc.enable()
