"""What every store derives from mentions: describe_entity."""

from kgbuild.store.base import EntityDescription, describe_entity


def test_name_is_the_fullest_form_as_most_mentions_write_it():
    described = describe_entity(
        {"cern": 1, "CERN": 3, "Cern": 1}, [["n:cern"], ["n:cern", "a:cern"]]
    )
    assert described == EntityDescription("CERN", ["CERN", "Cern", "cern"], ["a:cern", "n:cern"])


def test_fuller_names_win_over_frequent_short_forms():
    described = describe_entity({"Obama": 9, "Barack Obama": 1, "B. Obama": 2}, [])
    assert described.name == "Barack Obama"
    assert describe_entity({"IBM": 5, "IBM Corp": 1}, []).name == "IBM Corp"


def test_ties_are_broken_by_the_text_not_by_order():
    forward = describe_entity({"ACME Inc": 1, "Acme Inc": 1}, [["n:acme inc"]])
    backward = describe_entity({"Acme Inc": 1, "ACME Inc": 1}, [["n:acme inc"]])
    assert forward == backward and forward.name == "ACME Inc"


def test_no_mentions_no_description():
    assert describe_entity({}, []) is None
    assert describe_entity({"gone": 0}, [["n:gone"]]) is None


def test_a_state_snapshot_answers_by_id_and_pickles_small():
    import pickle

    from kgbuild.store.base import DocumentState, StateSnapshot

    states = {
        f"doc:{i}": DocumentState(
            id=f"doc:{i}", source=f"file:///d/{i}.txt", content_hash=f"h{i}", model_id="m"
        )
        for i in range(3)
    }
    snapshot = StateSnapshot(states)
    assert len(snapshot) == 3 and repr(snapshot) == "StateSnapshot(3 document(s))"
    copy = pickle.loads(pickle.dumps(snapshot))
    assert copy(["doc:2", "doc:9", "doc:0"]) == {"doc:2": states["doc:2"], "doc:0": states["doc:0"]}
    # Rows, not models: smaller than pickling the states themselves.
    assert len(pickle.dumps(snapshot)) < len(pickle.dumps(states))
