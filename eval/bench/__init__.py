"""Benchmarks: speed and memory, measured by commands, never by timed assertions in tests.

    answers.py  python -m eval.bench: reading, indexing, retrieval, the model, answers (and scale)
    scale.py    python -m eval.bench.scale: the local and Ray engines, search at 100k and 1M chunks
    load.py     python -m eval.bench.load: concurrent visitors on the app
    serve.py    python -m eval.bench.serve: one process against Ray Serve replicas
    beir.py     python -m eval.bench.beir: retrieval quality on BEIR SciFact
    common.py   what they share: figures files, the machine, statistics, a measuring child process
"""
