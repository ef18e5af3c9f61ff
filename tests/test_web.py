"""The app's guards as pure logic: the login throttle's window and the per-visitor index table."""
from __future__ import annotations

from pathlib import Path

from app.web.login import LoginThrottle
from app.web.sessions import PrivateIndexes


def test_login_throttle_counts_failures_in_a_sliding_window():
    throttle = LoginThrottle(limit=3, window_s=60)
    for t in (0, 10, 20):
        assert throttle.attempt("a", t) == 0
    assert throttle.attempt("a", 30) == 30  # the first attempt leaves the window at 60
    assert throttle.wait_s("b", 30) == 0
    assert throttle.attempt("a", 61) == 0  # one attempt fell out: one more try
    assert throttle.attempt("a", 62) > 0
    assert throttle.wait_s("a", 200) == 0 and "a" not in throttle.failures  # the table forgets quiet addresses


def test_a_successful_login_gives_its_slot_back():
    throttle = LoginThrottle(limit=2, window_s=60)
    assert throttle.attempt("a", 1.0) == 0 and throttle.attempt("a", 2.0) == 0
    throttle.succeeded("a", 2.0)
    assert throttle.attempt("a", 3.0) == 0 and throttle.attempt("a", 4.0) > 0


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def shared_index(tmp_path: Path) -> Path:
    from rag.index.store import CURRENT

    index = tmp_path / "shared"
    (index / "gen-1").mkdir(parents=True)
    (index / "gen-1" / "manifest.json").write_text("{}")
    (index / CURRENT).write_text("gen-1\n")
    return index


def test_private_indexes_copy_the_shared_index_and_never_use_the_session_id_as_a_path(tmp_path):
    private = PrivateIndexes(tmp_path / "visitors", clock=Clock())
    opened = private.open("../../etc", shared_index(tmp_path))
    assert opened.index_dir.is_relative_to(tmp_path / "visitors")
    assert (opened.index_dir / "gen-1" / "manifest.json").is_file() and opened.uploads_dir.is_dir()
    assert private.get("../../etc") is opened and private.get("someone-else") is None
    private.drop("../../etc")
    assert not opened.index_dir.parent.exists() and private.get("../../etc") is None


def test_private_indexes_are_dropped_when_idle_or_oldest_past_the_cap(tmp_path):
    clock = Clock()
    shared = shared_index(tmp_path)
    private = PrivateIndexes(tmp_path / "visitors", max_visitors=2, idle_s=100, active_s=5, clock=clock)
    first = private.open("one", shared)
    clock.now = 10
    private.open("two", shared)
    clock.now = 20
    private.open("three", shared)  # the cap drops the least recently used: "one"
    assert private.get("one") is None and not first.index_dir.exists()
    assert private.get("two") is not None
    clock.now = 500
    private.open("four", shared)  # "two" and "three" were idle for longer than 100 s
    assert set(private.visitors) == {PrivateIndexes.key("four")}


def test_an_active_visitor_is_never_evicted_for_someone_else(tmp_path):
    """16 quick sessions pushed a visitor's upload out of the cache: now the newcomers are refused."""
    import pytest

    from rag.errors import UserError

    clock = Clock()
    shared = shared_index(tmp_path)
    private = PrivateIndexes(tmp_path / "visitors", max_visitors=5, max_per_client=3, active_s=600, clock=clock)
    private.open("victim", shared, client="10.0.0.1")
    for n in range(3):
        clock.now += 1
        private.open(f"flood-{n}", shared, client="10.0.0.2")
    with pytest.raises(UserError, match="this address holds uploads for 3 visitors active"):
        private.open("flood-3", shared, client="10.0.0.2")
    clock.now += 1
    private.open("neighbour", shared, client="10.0.0.3")  # the cap of 5 is reached with this one
    with pytest.raises(UserError, match="the server holds uploads for 5 visitors active"):
        private.open("late", shared, client="10.0.0.4")
    assert private.get("victim") is not None
    clock.now += 700  # the flood's sessions fall quiet: the same address may open new ones, its own oldest go
    private.get("victim")
    private.open("flood-4", shared, client="10.0.0.2")
    assert private.get("flood-0") is None and private.get("victim") is not None


def test_a_refusal_that_says_why_itself_is_shown_in_its_own_words_in_the_chat_and_sources():
    """The README's second Best Buy question: the two readings of its revenue disagree. The chat
    showed "Not found in the documents: none of the passages found appears to answer it" (false:
    both passages were found) where the command line says what was found; a plain refusal keeps
    the reader's wording."""
    from app.render import answer_markdown, sources_html
    from rag.records import Answer

    why = ("found 10,329 in the passage quoted (2023 Q2 BBY.pdf), but the income statement's Revenue for Three "
           "Months Ended July 29, 2023 is $9,583: the two readings disagree")
    disagree = Answer("q", why[0].upper() + why[1:] + ".", True, [], [], [], "m", {}, refusal_reason=why,
                      scope="searched BEST BUY CO., INC · 10-Q · Q2 FY2024")
    chat, sources = answer_markdown(disagree), sources_html(disagree)
    assert chat.startswith("Found 10,329 in the passage quoted") and "Not found" not in chat
    assert "the two readings disagree" in sources and "No source answers" not in sources
    assert "Documents: searched BEST BUY CO., INC" in sources
    plain = Answer("q", "The documents do not cover this question.", True, [], [], [], "m", {},
                   refusal_reason="the passages do not appear to answer it (P(answerable) 0.19 < 0.32)")
    assert answer_markdown(plain).startswith("Not found in the documents: the passages closest")
    assert "P(answerable)" not in sources_html(plain).split("Details")[0]
