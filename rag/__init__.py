"""The pipeline package: ingest -> index -> answer, assembled by `assemble`, reached by the front
ends through `assistant` (the app, `rag eval`) or directly by `cli` (the `rag` command)."""
