"""Ingest: files -> blocks -> section paths -> paragraphs -> chunks.

Takes document paths (Markdown, text, HTML, PDF, Word); gives `Chunk` records that know their
section path, page and offsets. `readers` does the file I/O and format parsing; `sections`,
`paragraphs` and `chunking` are pure functions over the blocks it gives.
"""
