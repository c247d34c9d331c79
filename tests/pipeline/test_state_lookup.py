"""What the Ray engine asks of a store, on both stores: document states by id, and run
marks (mark what a run saw; the rest is deleted) that leave no trace in the graph."""

from __future__ import annotations

import pickle

import pytest
from test_incremental import STORES, VERSION_1, Target, ingest, make_target, write_collection


@pytest.fixture(params=STORES)
def target(request, tmp_path) -> Target:
    return make_target(request, tmp_path)


def test_states_by_id_and_run_marks(target, tmp_path):
    docs = write_collection(tmp_path / "docs", VERSION_1)
    ingest(target.store(), [docs])
    before = target.dump()
    store = target.store()
    with store:
        every = store.document_states()
        ids = sorted(every)
        assert len(ids) == 5
        some = store.document_states_for([ids[0], ids[3], "doc:not-there"])
        assert some == {ids[0]: every[ids[0]], ids[3]: every[ids[3]]}
        assert store.document_states_for([]) == {}

        store.mark_seen(ids[:2], "run-1")
        store.mark_seen(ids[2:4], "run-2")  # an older, interrupted run's marks
        unseen = store.unseen("run-1")
        assert [s.id for s in unseen] == sorted(ids[2:], key=lambda i: every[i].source)
        assert unseen == sorted((every[i] for i in ids[2:]), key=lambda s: s.source)
        store.mark_seen(ids, "run-3")
        assert store.unseen("run-3") == []
        store.clear_marks()
        assert len(store.unseen("run-3")) == 5
    assert target.dump() == before  # the marks are gone from the graph


def test_a_state_lookup_travels_to_another_process(target, tmp_path):
    """``store.state_lookup()`` pickles (as it does on its way to a Ray actor), answers by
    id in the copy what the store answers, and never shows a password in its repr."""
    docs = write_collection(tmp_path / "docs", VERSION_1)
    ingest(target.store(), [docs])
    store = target.store()
    with store:
        every = store.document_states()
        lookup = store.state_lookup()
    ids = sorted(every)
    copy = pickle.loads(pickle.dumps(lookup))
    try:
        assert copy([ids[1], "doc:not-there", ids[4]]) == {i: every[i] for i in (ids[1], ids[4])}
        assert copy([]) == {}
    finally:
        copy.close()
    if target.server is not None:
        assert target.server.password not in repr(lookup)
        assert target.server.password not in repr(copy)
