"""What the browser app needs beyond the pipeline: guards at its doors and per-visitor state.

Takes Gradio's requests (uploads, logins, session ids); gives checked files, a login throttle
and each visitor's own index. Gradio is imported inside functions, so the CLI never pays for it.
"""
