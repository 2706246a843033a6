"""Progress of long loops. Library functions take a `progress_factory(description, total)`, a context
manager yielding `advance(n, **fields)`; the CLI passes rich progress bars with an ETA, tests and quiet
callers this one."""

from __future__ import annotations


class NoProgress:
    """A progress factory that shows nothing: NoProgress(description, total) yields advance(n, **fields)."""

    def __init__(self, *a, **k):
        pass

    def __enter__(self):
        return lambda *a, **k: None

    def __exit__(self, *exc):
        return False
