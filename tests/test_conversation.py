"""Follow-ups: references to the earlier question and to its answer, the chat's history, the set."""
import json
from pathlib import Path

import pytest

from rag.answer.conversation import Turn, answer_from_chat, fallback_rewrite, needs_context, standalone_question
from rag.index.lexical import terms

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("follow_up, earlier, expected", [
    ("What was the focus of the Guidelines of that year?", Turn("When were the first Guidelines formulated?", "1978"),
     "What was the focus of the Guidelines of 1978?"),
    ("Who led the agency that year?", Turn("When was the agency founded?", "It was founded in 1934."),
     "Who led the agency in 1934?"),
    ("How many years have passed since then?", Turn("When were the 1997 Guidelines formulated?"),
     "How many years have passed since 1997?"),
    ("When was his radio demonstration?", Turn("Who first sent radio waves across the Atlantic?", "Guglielmo Marconi"),
     "When was Guglielmo Marconi's radio demonstration?"),
    ("What did she announce?", Turn("Who is the Secretary of Commerce?", "Gina Raimondo"),
     "What did Gina Raimondo announce?"),
])
def test_a_reference_to_the_earlier_answer_takes_its_year_or_name(follow_up, earlier, expected):
    assert fallback_rewrite(follow_up, earlier) == expected


def test_a_pronoun_without_a_named_answer_takes_the_earlier_topic():
    """"it" after an answer that is not a name still means the earlier question's topic."""
    earlier = Turn("When did the Parliament of Victoria enact the constitution?", "1975")
    assert "Victoria" in fallback_rewrite("Who can amend it?", earlier)


def test_a_question_that_names_its_topic_is_left_alone():
    earlier = [Turn("When were the first Guidelines formulated?", "1978")]
    assert not needs_context("What was the focus of the 1978 Guidelines?", earlier, terms)
    assert standalone_question("What was the focus of the 1978 Guidelines?", earlier, terms) == \
        "What was the focus of the 1978 Guidelines?"


def test_a_model_rewrite_that_drops_the_follow_up_is_not_used():
    earlier = [Turn("Who first sent radio waves across the Atlantic?", "Guglielmo Marconi")]
    rewritten = standalone_question("When was his radio demonstration?", earlier, terms,
                                    generate=lambda messages: "Who invented the telephone?")
    assert rewritten == "When was Guglielmo Marconi's radio demonstration?"
    prompt = []
    standalone_question("When was his radio demonstration?", earlier, terms,
                        generate=lambda messages: prompt.extend(messages) or "When was Marconi's radio demonstration?")
    assert "Earlier answer: Guglielmo Marconi" in prompt[-1]["content"]


@pytest.mark.parametrize("markdown, expected", [
    ("**1978**\n\nThe first Guidelines were formulated in 1978 &#91;1&#93;. [1]", "1978"),
    ("The first Guidelines were formulated in 1978. [1][2] Then more.", "The first Guidelines were formulated in 1978."),
    ("🚫 The documents do not cover this question.", ""),
    ("Not found in the documents: nothing in them matched the question.", ""),
    ("Warning: the question is empty", ""),
    ("⚠️ question is empty", ""),
    ("**Kevin K&#46; McAleenan**\n\nsigned by", "Kevin K. McAleenan"),
])
def test_the_answer_is_read_back_from_the_chat_as_shown(markdown, expected):
    assert answer_from_chat(markdown) == expected


@pytest.mark.parametrize("as_parts", [False, True], ids=["string content", "Gradio 6 content parts"])
def test_the_chat_history_pairs_each_question_with_its_answer(as_parts):
    """Gradio 6 sends the chat's own history with each content as a list of parts: read as strings
    only, the earlier turns were dropped and the README's follow-up was refused in the browser."""
    import app as chat_app

    history = [{"role": "user", "content": "When were the first Guidelines formulated?"},
               {"role": "assistant", "content": "**1978**\n\nThey were formulated in 1978. [1]"},
               {"role": "user", "content": "What is the capital of Australia?"},
               {"role": "assistant", "content": "Not found in the documents: nothing in them matched the question."},
               {"role": "user", "content": "And then?"}]
    if as_parts:
        history = [{**m, "content": [{"type": "text", "text": m["content"]}]} for m in history]
    turns = chat_app.previous_turns(history)
    assert turns == [Turn("When were the first Guidelines formulated?", "1978"),
                     Turn("What is the capital of Australia?", ""), Turn("And then?", "")]


def test_the_follow_up_set_holds_forty_conversations_over_three_corpora():
    rows = [json.loads(line) for line in (ROOT / "eval" / "sets" / "follow-ups.jsonl").read_text().splitlines()]
    assert len(rows) >= 40 and len({r["id"] for r in rows}) == len(rows)
    assert {r["corpus"] for r in rows} == {"sample", "agency", "xquad"}
    for r in rows:
        assert r["previous"] and r["answers"] and r["full_question"] != r["question"]
        assert needs_context(r["question"], [Turn(q) for q in r["previous"]], terms), r["id"]


def test_an_eval_row_with_earlier_turns_is_asked_as_a_follow_up(tmp_path, sample_index):
    """The runner answers the earlier question first, then rewrites and answers the follow-up."""
    from rag.cli import main

    row = {"id": "f1", "question": "When were they first formulated?", "answers": ["1978"],
           "previous": ["What do the Guidelines for Japan-U.S. Defense Cooperation provide a framework for?"]}
    (tmp_path / "set.jsonl").write_text(json.dumps(row) + "\n")
    out = tmp_path / "out"
    assert main(["eval", str(tmp_path / "set.jsonl"), "--index", str(sample_index), "--out", str(out),
                 "--generator", "extractive"]) == 0
    record = json.loads((out / "results.jsonl").read_text().splitlines()[0])
    assert record["question"] == row["question"]
    assert record["asked"] == "When were the Guidelines for Japan-U.S. Defense Cooperation first formulated?"
    assert "correct" in record["metrics"]


@pytest.mark.parametrize("line", ['{"id": "x"', '{"id": "x", "question": "q"}', '[1, 2]'])
def test_a_malformed_follow_up_set_is_one_line_before_anything_loads(tmp_path, capsys, line):
    from eval.experiments.follow_ups import main

    (tmp_path / "set.jsonl").write_text(line + "\n")
    assert main([str(tmp_path / "out"), "--set", str(tmp_path / "set.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "set.jsonl:1: not a follow-up conversation" in err[0], err
