"""transforms/common/handoff.py: a value is taken once, only by its own run."""
from transforms.common import handoff


def test_a_value_is_taken_once_and_only_under_its_run():
    handoff.hand("run-a", "summary", b"{}")
    assert handoff.take("run-b", "summary") is None
    assert handoff.take(None, "summary") is None
    assert handoff.take("run-a", "summary") == b"{}"
    assert handoff.take("run-a", "summary") is None  # a retried step reads the file instead


def test_forget_drops_what_a_run_left():
    handoff.hand("run-c", "one", 1)
    handoff.hand("run-c", "two", 2)
    handoff.hand("run-d", "one", 3)
    handoff.forget("run-c")
    assert handoff.take("run-c", "one") is None and handoff.take("run-c", "two") is None
    assert handoff.take("run-d", "one") == 3
