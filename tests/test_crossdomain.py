"""The cross-domain protocol keeps calibration and test apart, and the fit reads calibration only."""
from __future__ import annotations

import json

import pytest

from eval.calibrate.parts import DATASETS, Part, all_parts, check_apart


@pytest.fixture(scope="module")
def parts():
    return all_parts()


def test_every_set_has_a_calibration_and_a_test_part(parts):
    names = {p.name for p in parts}
    for dataset in ("squad_cct", "xquad", "covidqa", "sample"):
        assert {f"{dataset}-calibration", f"{dataset}-test"} <= names


def test_no_question_paragraph_or_article_is_in_both_parts(parts):
    check_apart(parts)  # raises otherwise
    by_name = {p.name: p for p in parts}
    for dataset, key in (("squad_cct", "paragraph"), ("xquad", "article"), ("covidqa", "paper")):
        calib = {r[key] for r in by_name[f"{dataset}-calibration"].questions}
        test = {r[key] for r in by_name[f"{dataset}-test"].questions}
        assert calib and test and not calib & test
        ids = [r["id"] for p in (by_name[f"{dataset}-calibration"], by_name[f"{dataset}-test"]) for r in p.questions]
        assert len(ids) == len(set(ids))


def test_made_unanswerables_come_from_articles_outside_the_parts_index(parts):
    for part in (p for p in parts if p.dataset == "xquad"):
        indexed = {int(name[1:3]) for name in part.docs}
        made = [r for r in part.questions if r.get("made_unanswerable")]
        assert made and all(not r["answers"] and r["article"] not in indexed for r in made)
        assert all(r["article"] in indexed for r in part.questions if r["answers"])


def test_the_split_is_the_same_every_time(parts):
    again = all_parts()
    assert [[r["id"] for r in p.questions] for p in parts] == [[r["id"] for r in p.questions] for p in again]


def test_a_question_in_both_parts_is_caught():
    row = {"id": "q1", "question": "?", "answers": ["x"], "paragraph": 3}
    with pytest.raises(AssertionError, match="in both parts"):
        check_apart([Part("s", "calibration", [row]), Part("s", "test", [dict(row, id="q2")])])


def test_the_fit_never_reads_a_test_part(tmp_path):
    from eval.calibrate.fit_answerability import read_rows

    row = {"id": "a", "metrics": {"answerable": True}, "signals": {"cosine": 0.5}}
    (tmp_path / "set-calibration" / "collect").mkdir(parents=True)
    (tmp_path / "set-calibration" / "collect" / "results.jsonl").write_text(json.dumps(row) + "\n")
    (tmp_path / "set-test" / "collect").mkdir(parents=True)
    (tmp_path / "set-test" / "collect" / "results.jsonl").write_text("this would not parse\n")
    assert read_rows(tmp_path, "collect") == [{"set": "set", "answerable": True, "signals": {"cosine": 0.5}}]


def test_the_datasets_are_where_the_protocol_reads_them():
    assert (DATASETS / "squad2_train_cct").is_dir(), DATASETS


@pytest.mark.parametrize("argv, expected", [
    (["eval.calibrate.fit_answerability", "{missing}"], "is not a folder of parts"),
    (["eval.calibrate.fit_answerability", "{empty}"], "no calibration parts in"),
    (["eval.calibrate.crossdomain", "build", "{file}"], "is a file; name a folder"),
    (["eval.calibrate.crossdomain", "table", "{empty}"], "no test parts in"),
    (["eval.calibrate.crossdomain", "curve", "{missing}"], "is not a folder of parts"),
])
def test_bad_folders_are_one_line_errors_and_write_nothing(tmp_path, argv, expected):
    import subprocess
    import sys

    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("keep me")
    paths = {"missing": tmp_path / "missing", "empty": tmp_path / "empty", "file": tmp_path / "file.txt"}
    argv = [a.format(**paths) for a in argv]
    result = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, timeout=300)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and expected in lines[0], result.stderr
    assert (tmp_path / "file.txt").read_text() == "keep me" and not list((tmp_path / "empty").iterdir())
