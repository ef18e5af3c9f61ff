"""What fits the product's shipped decisions, and the only writer of `rag/answer/*.json`, of the
heads and of the injection classifier's weights. Every fit reads calibration parts only.

    crossdomain.py        the protocol: calibration and test parts of several public sets
    fit_answerability.py  the answerability decision (rag/answer/answerability.json)
    fit_collection.py     its collection model, from FinanceBench's calibration companies (same file)
    train_heads.py        the hidden-state answerability head (rag/answer/heads/)
    states.py             hidden states read from the model for the head trainers and studies
    train_injection.py    the injection classifier (rag/answer/injection_model.*)
    injection_check.py    its measurement on held-out rows and document sentences
    reader_data.py        the span reader's training rows (never a test part's)
    train_reader.py       the span reader (OUT/reader.safetensors; none ships: README)
    reader_check.py       the reader against today's pipeline under its declared rule
"""
