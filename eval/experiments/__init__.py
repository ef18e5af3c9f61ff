"""Studies: one-off measurements whose results are in `eval/results/`. Nothing in the product or
in the evaluation tools imports them (their own tests do); each builds its pipeline through
`rag.assemble`. They can be run again to check a figure (`python -m eval.experiments.NAME --help`).

    follow_ups.py          follow-up questions rewritten against earlier turns
    validate_support.py    the support check against hand labels
    financebench.py        the FinanceBench protocol (with finance_run.py and finance_grading.py)
    tenq_lookalikes.py     the vendored 10-Q set, question by question

Studies whose results did not ship were deleted; their results stay, each produced by the code
at commit df1e55b (git show df1e55b:eval/experiments/NAME.py): answer_experiments.py
(eval/results/second-look-calibration.md), span_head.py (span-head.md), when_dates.py
(when-dates.md), collection_replay.py (the replay in financebench.md).
"""
