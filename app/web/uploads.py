"""Uploads: only files a visitor sent to this server, of a type and size the app indexes."""
from __future__ import annotations

import os
from pathlib import Path

from rag.errors import UserError
from rag.library import SUFFIXES

UPLOAD_TYPES = tuple(SUFFIXES)  # what the readers read: a format added there is accepted here too
MAX_UPLOAD_MB = 20


def uploaded_file(path, upload_root: Path) -> Path:
    """The real file behind an upload, or UserError when it is not a file uploaded to this server.

    A client names the file to process by its server path, so a hostile one can name any file
    the process can read (or a URL for the server to fetch). Only regular files inside the
    upload folder count; symlinks are resolved first, so a link out of the folder is refused.
    """
    text = str(path or "")
    if "://" in text:
        raise UserError(f"refused upload {text[:80]!r}: not a file uploaded to this server")
    real = Path(os.path.abspath(text)).resolve()
    if not real.is_relative_to(upload_root.resolve()) or not real.is_file():
        raise UserError(f"refused upload {Path(text).name!r}: not a file uploaded to this server")
    return real


def unsuitable(path: Path) -> str | None:
    """Why an uploaded file is not indexed, or None when it is."""
    if path.suffix.lower() not in UPLOAD_TYPES:
        return f"{path.name}: not a supported type ({', '.join(UPLOAD_TYPES)})"
    if path.stat().st_size > MAX_UPLOAD_MB * 1024 * 1024:
        return f"{path.name}: larger than {MAX_UPLOAD_MB} MB"
    return None


def refusal(reason):
    """gr.Error for a refused request, logged as one line with its reason, never a traceback."""
    import gradio as gr

    from app.web.guard import log_refusal

    return gr.Error(log_refusal(reason), print_exception=False)


def upload_component(**kwargs):
    """A gr.File that lets Gradio copy only files uploaded to this server into its cache.

    Gradio copies the path (or fetches the URL) that a client's FileData names into its cache
    before any handler runs; this guard sits at that copy, in addition to Gradio's own check.
    The instance's methods are wrapped rather than subclassed: a gr.File subclass makes Gradio
    write a .pyi stub next to the module that defines it.
    """
    import gradio as gr
    from gradio.utils import get_upload_folder

    component = gr.File(**kwargs)
    move_async, move = component.async_move_resource_to_block_cache, component.move_resource_to_block_cache

    def checked(url_or_file_path):
        if url_or_file_path is None:
            return None
        try:
            return str(uploaded_file(url_or_file_path, Path(get_upload_folder())))
        except UserError as exc:
            raise refusal(exc) from None

    async def guarded_move_async(url_or_file_path):
        return await move_async(checked(url_or_file_path))

    component.async_move_resource_to_block_cache = guarded_move_async
    component.move_resource_to_block_cache = lambda url_or_file_path: move(checked(url_or_file_path))
    return component
