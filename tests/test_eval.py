"""Evaluation: metrics on hand-computed cases, the three input formats, resume, bad input."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from eval.judge import is_correct, section_matches
from eval.metrics import exact_match, hit_at_k, ndcg_at_k, recall_at_k, reciprocal_rank, token_f1
from eval.questions import Question, load_jsonl, load_question_set
from eval.scoring import citation_metrics, retrieval_metrics, summarise
from rag.errors import UserError


def test_ranking_metrics_by_hand():
    ranked = ["x", "a", "y", "b"]
    relevant = {"a", "b", "c"}
    assert hit_at_k(ranked, relevant, 1) == 0.0 and hit_at_k(ranked, relevant, 2) == 1.0
    assert recall_at_k(ranked, relevant, 4) == pytest.approx(2 / 3)
    assert reciprocal_rank(ranked, relevant) == 0.5
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(ranked, {g: 1.0 for g in relevant}, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(["a", "b", "c"], {"a": 1, "b": 1, "c": 1}, 10) == pytest.approx(1.0)
    assert reciprocal_rank(["x"], {"a"}) == 0.0 and recall_at_k(["a"], set(), 5) == 0.0


def test_squad_answer_metrics_by_hand():
    assert exact_match("The Cold War.", ["cold war"]) == 1.0
    assert exact_match("in 1978", ["1978"]) == 0.0
    # prediction "in 1978 and 1997" vs "1978": precision 1/4... normalised tokens: in, 1978, and, 1997
    assert token_f1("in 1978 and 1997", ["1978"]) == pytest.approx(2 * 0.25 * 1 / 1.25)
    assert token_f1("nothing here", ["1978"]) == 0.0
    assert token_f1("Article 5", ["Article 6", "article 5"]) == 1.0


def test_correctness_and_section_matching():
    assert is_correct("The first Guidelines date from 1978 [1].", ["1978"])
    assert not is_correct("Australia, Thailand and the Philippines", ["South Korea, Australia, Thailand and the Philippines"])
    assert is_correct("South Korea, Australia, Thailand and the Philippines", ["South Korea, Australia, Thailand and the Philippines"])
    path = "Chapter 3 X › Section 1 Y › 2 Maintenance"
    assert section_matches(path, "2 Maintenance") and section_matches(path, "Section 1 Y › 2 Maintenance")
    assert not section_matches(path, "Section 1 Y") and not section_matches(path, "Mainten")
    assert section_matches(path, "Maintenance")  # a gold title given without its number (#11)


def _passage(section: str, chunk_id: str, source: str = "/d/doc.md") -> dict:
    return {"section": section, "chunk_id": chunk_id, "source": source, "text": "t"}


def test_retrieval_and_citation_metrics_against_gold_sections():
    q = Question("q", "?", ("a",), ("B", "D"))
    retrieved = [_passage("A", "1"), _passage("X › B", "2"), _passage("X › B", "3"), _passage("D", "4")]
    m = retrieval_metrics(retrieved, q, k=2)
    assert m["hit@2"] == 1.0 and m["recall@2"] == 0.5 and m["mrr"] == 0.5
    # ranked items: other, B, D (the second B passage adds nothing)
    assert m["ndcg@10"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    c = citation_metrics([_passage("X › B", "2"), _passage("A", "1")], q)
    assert c == {"citation_precision": 0.5, "citation_recall": 0.5}


def test_gold_sources_for_squad_and_beir():
    q = Question("q", "?", ("a",), (), {"sources": ["p00002"]})
    m = retrieval_metrics([_passage("T", "1", "/x/p00001.md"), _passage("T", "2", "/x/p00002.md")], q, k=1)
    assert m["hit@1"] == 0.0 and m["mrr"] == 0.5


def test_summary_rates_and_percentiles():
    rows = [
        {"metrics": {"answerable": True, "refused": False, "correct": True, "false_refusal": False},
         "timings": {"total_s": 1.0}},
        {"metrics": {"answerable": True, "refused": True, "correct": False, "false_refusal": True},
         "timings": {"total_s": 3.0}},
        {"metrics": {"answerable": False, "refused": True, "correct_refusal": True}, "timings": {"total_s": 2.0}},
    ]
    s = summarise(rows)
    assert (s["correct"], s["correct_refusal"], s["false_refusals"], s["total_s_p50"]) == (0.5, 1.0, 1, 2.0)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("lines, message", [
    (['{"id": "a", "question": "Q?"}', '{"id": "b", "question": '], ":2: malformed JSON"),
    (['{"id": "a", "answers": []}'], ":1: missing 'question'"),
    (['{"id": "a", "question": "Q?"}', '{"id": "a", "question": "R?"}'], ":2: duplicate id 'a'"),
    ([""], "is empty"),
    (['["not", "an", "object"]'], ":1: expected a JSON object"),
])
def test_bad_question_sets(tmp_path, lines, message):
    path = _write(tmp_path / "set.jsonl", lines)
    with pytest.raises(UserError, match=message) as info:
        load_jsonl(path)
    assert str(path) in str(info.value)


def test_unknown_fields_are_ignored(tmp_path):
    path = _write(tmp_path / "set.jsonl", ['{"id": "a", "question": "Q?", "answers": ["x"], "difficulty": 3}'])
    assert load_jsonl(path)[0].answers == ("x",)


def test_squad_and_beir_formats(tmp_path):
    squad = tmp_path / "squad.json"
    squad.write_text(json.dumps({"data": [{"title": "Rivers", "paragraphs": [
        {"context": "The Nile is long.", "qas": [{"id": "s1", "question": "Which river is long?",
                                                 "answers": [{"text": "The Nile", "answer_start": 0}]}]}]}]}))
    questions, docs = load_question_set(squad, tmp_path / "docs")
    assert questions[0].answers == ("The Nile",) and questions[0].extra["sources"] == ["p00001"]
    assert (docs / "p00001.md").read_text().startswith("# Rivers\n\nThe Nile is long.")

    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    (beir / "corpus.jsonl").write_text('{"_id": "d1", "title": "T", "text": "Body."}\n{"_id": "d2", "title": "U", "text": "Other."}\n')
    (beir / "queries.jsonl").write_text('{"_id": "q1", "text": "body?"}\n{"_id": "q2", "text": "unjudged"}\n')
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td2\t1\n")
    questions, docs = load_question_set(beir, tmp_path / "bdocs")
    assert [(q.id, q.extra["sources"], q.extra["retrieval_only"]) for q in questions] == [("q1", ["d0000001"], True)]


SET = ['{"id": "a1", "question": "When were the first Guidelines formulated?", "answers": ["1978"], '
       '"sections": ["1 Background to the Formulation of the Guidelines"]}',
       '{"id": "a2", "question": "Which region must mitigate the impact of U.S. Forces?", "answers": ["Okinawa"], '
       '"sections": ["Chapter 3 Strengthening of the Japan-U.S. Alliance"]}',
       '{"id": "u1", "question": "What is the capital of Australia?", "answers": []}']


def test_run_writes_results_summary_report_and_resumes(tmp_path, sample_index, capsys):
    from rag.cli import main

    questions = _write(tmp_path / "set.jsonl", SET)
    out = tmp_path / "out"
    argv = ["eval", str(questions), "--index", str(sample_index), "--out", str(out), "--generator", "extractive"]
    assert main(argv + ["--limit", "2"]) == 0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a1", "a2"]
    assert rows[0]["metrics"]["hit@4"] == 1.0 and rows[1]["metrics"]["correct_and_cited"] is True
    assert set(rows[0]) >= {"question", "answer", "refused", "citations", "sentences", "retrieved", "timings"}
    # Resume: the two finished questions are kept as they were, only the third is run.
    (out / "results.jsonl").write_text((out / "results.jsonl").read_text() + '{"id": "torn')
    assert main(argv) == 0
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.endswith("}")]
    assert [r["id"] for r in rows][-1] == "u1" and rows[-1]["metrics"]["correct_refusal"] is True
    summary = json.loads((out / "summary.json").read_text())
    assert summary["questions"] == 3 and summary["correct_refusal"] == 1.0
    html = (out / "report.html").read_text()
    assert "What is the capital of Australia?" in html and (out / "metrics.png").exists() and (out / "report.md").exists()


def test_compare_writes_one_side_by_side_report(tmp_path, sample_index):
    from rag.cli import main

    questions = _write(tmp_path / "set.jsonl", SET[:2])
    (tmp_path / "dense.toml").write_text('mode = "dense"\ngenerator = "extractive"\n')
    (tmp_path / "bm25.toml").write_text('mode = "bm25"\ngenerator = "extractive"\nk = 2\n')
    out = tmp_path / "cmp"
    assert main(["eval", str(questions), "--index", str(sample_index), "--out", str(out), "--compare",
                 str(tmp_path / "dense.toml"), str(tmp_path / "bm25.toml")]) == 0
    html = (out / "report.html").read_text()
    assert "<th>dense</th>" in html and "<th>bm25</th>" in html
    assert json.loads((out / "bm25" / "summary.json").read_text())["settings"]["k"] == 2


def test_changes_between_two_runs_are_listed_question_by_question(tmp_path, sample_index, capsys):
    """`python -m eval.changes`: the same run in another folder is the same (exit 0); two settings
    that retrieve differently are listed by field and question (exit 1); bad input is one line."""
    from eval.changes import main
    from rag.cli import main as rag

    questions = _write(tmp_path / "set.jsonl", SET[:2])
    for name, mode in (("dense", "dense"), ("bm25", "bm25"), ("dense-again", "dense")):
        assert rag(["eval", str(questions), "--index", str(sample_index), "--out", str(tmp_path / name),
                    "--generator", "extractive", "--mode", mode]) == 0
    capsys.readouterr()
    assert main([str(tmp_path / "dense"), str(tmp_path / "dense-again" / "results.jsonl")]) == 0
    assert "every shared question is the same" in capsys.readouterr().out
    assert main([str(tmp_path / "dense"), str(tmp_path / "bm25")]) == 1
    out = capsys.readouterr().out
    assert out.startswith("2 questions in both runs") and "changed retrieved: " in out
    assert main([str(tmp_path / "dense"), str(tmp_path / "none")]) == 2
    assert main([str(tmp_path / "dense"), str(questions)]) == 2  # a question set is not a run
    (tmp_path / "empty.jsonl").write_text("")
    assert main([str(tmp_path / "dense"), str(tmp_path / "empty.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and "no results at" in err[0] and "not an answer record" in err[1], err
    assert "holds no answer records" in err[2], err


@pytest.mark.parametrize("case", ["missing set", "bad toml key", "unknown sections"])
def test_eval_bad_input(tmp_path, sample_index, capsys, case):
    from rag.cli import main

    out = tmp_path / "out"
    base = ["--index", str(sample_index), "--out", str(out), "--generator", "extractive"]
    if case == "missing set":
        assert main(["eval", str(tmp_path / "none.jsonl")] + base) == 2
        assert "no such question set" in capsys.readouterr().err
    elif case == "bad toml key":
        (tmp_path / "x.toml").write_text("colour = 1\n")
        questions = _write(tmp_path / "set.jsonl", SET[:1])
        assert main(["eval", str(questions), "--compare", str(tmp_path / "x.toml")] + base) == 2
        assert "unknown setting(s) colour" in capsys.readouterr().err
    else:
        questions = _write(tmp_path / "set.jsonl", ['{"id": "a", "question": "When were the first Guidelines formulated?", '
                                                    '"answers": ["1978"], "sections": ["9 No Such Section"]}'])
        assert main(["eval", str(questions)] + base) == 0
        assert "gold sections not found in the index: 9 No Such Section" in capsys.readouterr().err


@pytest.mark.parametrize("argv, expected", [
    (["--precision", "int4"], "--precision"),
    (["--skip", "everything"], "--skip"),
    (["--docs", "0"], "at least 1"),
    (["--questions", "missing.jsonl"], "no question set"),
    (["--answer-models", "qwen2.5-coder-1.5b,"], "--answer-models"),
    (["--answer-models", "qwen-9b"], "is not a bundled model"),
])
def test_benchmark_bad_arguments_are_one_line(tmp_path, capsys, argv, expected):
    """Checked before anything slow starts: a typo must not cost an hour of benchmarking."""
    from eval.bench.answers import main

    with pytest.raises(SystemExit) as exit_:
        main(["--out", str(tmp_path / "bench.json"), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and expected in err[0]


def test_benchmark_unwritable_output_is_one_line(tmp_path, capsys):
    from eval.bench.answers import main

    (tmp_path / "file").write_text("not a folder")
    assert main(["--out", str(tmp_path / "file" / "bench.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("python -m eval.bench: error:")


@pytest.mark.parametrize("argv, expected", [(["--answers", "0"], "at least 1"), (["--out", "/"], "is a folder"),
                                            (["--out", "/proc/version/load.json"], "error:")])
def test_load_benchmark_bad_arguments_are_one_line_before_any_server_starts(tmp_path, capsys, argv, expected):
    from eval.bench.load import main

    assert main(["--out", str(tmp_path / "load.json"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("python -m eval.bench.load: error:") and expected in err[0]


def test_load_benchmark_cuts_each_visitor_a_pdf_of_its_own(tmp_path):
    import pypdfium2 as pdfium

    from eval.bench.load import visitor_pdfs

    made = visitor_pdfs(tmp_path, 12, pages=4)
    assert len({p.name for p in made}) == 12 and all(len(pdfium.PdfDocument(p)) == 4 for p in made)
    assert made[0].read_bytes() != made[10].read_bytes()  # two visitors of one report read different pages


@pytest.mark.parametrize("argv", [["--sizes", "1e6"], ["--sizes", "10"], ["--queries", "0"]])
def test_scale_benchmark_bad_arguments_are_one_line(tmp_path, capsys, argv):
    from eval.bench.scale import main

    with pytest.raises(SystemExit) as exit_:
        main(["--out", str(tmp_path / "scale.json"), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and err[0].startswith("python -m eval.bench.scale: error:")


def test_scale_benchmark_exact_search_is_brute_force():
    """The recall reference: blockwise top-10 over the vectors equals a full sort."""
    from eval.bench.scale import _exact_top

    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((450_001, 8)).astype(np.float32)
    queries = rng.standard_normal((4, 8)).astype(np.float32)
    expected = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    np.testing.assert_array_equal(_exact_top(vectors, queries, 10), expected)
