"""The lab's door: what studies, benches and trainers open of the product beyond the front ends' door.

Front ends (the app, the CLI, `rag eval`) reach the product through `rag.library` and
`rag.assistant` only (`tests/test_structure.py`). A study needs more: a pipeline built from the
settings it varies, a retriever over one part's index, an index's stored chunks and cards, the
sentence splitter and term list its grading uses, the switch that keeps a run offline. It takes
them here, so that everything the lab reaches below the product's door is listed in one module.

The one exception is a study's own subject: a trainer imports the module it trains (the injection
model, the heads, the reader), a component bench the component it times (the dense index, the
index engines). `tests/test_structure.py::LAB_SUBJECTS` names each of those pairs.
"""
from __future__ import annotations

from rag.answer.measure import FILING_KINDS, retrieval_signals
from rag.answer.pipeline import AnswerConfig
from rag.answer.search import ranked_shown
from rag.assemble import (answer_config, answer_pipeline, build_pipeline, calibration_kind, load_generator,
                          open_assistant, open_retriever, prefer_offline, quiet_library_warnings, without_model)
from rag.index import store
from rag.index.lexical import terms
from rag.index.retrieval import Retriever
from rag.ingest.cards import DocumentCard
from rag.ingest.paragraphs import split_sentences
from rag.ingest.readers import UnreadableFile, read_blocks
from rag.library import Library, load_embedder
from rag.paths import sample_document
from rag.query import check_query

__all__ = [
    "AnswerConfig", "DocumentCard", "FILING_KINDS", "Library", "Retriever", "UnreadableFile", "answer_config",
    "answer_pipeline", "build_pipeline", "calibration_kind", "check_query", "load_embedder", "load_generator",
    "open_assistant", "open_retriever", "prefer_offline", "quiet_library_warnings", "ranked_shown", "read_blocks",
    "retrieval_signals", "sample_document", "split_sentences", "store", "terms", "without_model",
]
