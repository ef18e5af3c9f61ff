"""Studies: one-off measurements whose results are in `eval/results/`. Nothing in the product or
in the evaluation tools imports them (their own tests do); each builds its pipeline through
`rag.assemble`. They can be run again to check a figure (`python -m eval.experiments.NAME --help`).

    answer_experiments.py  prompts, rereads and second looks on the calibration parts
    span_head.py           a span head on the model's frozen states (lost to the draft)
    when_dates.py          date-only answers to "when" questions
    follow_ups.py          follow-up questions rewritten against earlier turns
    validate_support.py    the support check against hand labels
    financebench.py        the FinanceBench protocol (with finance_run.py and finance_grading.py)
    collection_replay.py   the collection rule replayed over a stored run
"""
