"""Writing files so that a reader never sees half of one and nothing on disk is lost on failure."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename over it. The file gets the mode any new file
    gets (0666 less the umask), not mkstemp's private 0600."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def check_writable(path: str | Path) -> Path:
    """Fail before any work is done when `path` cannot be written: its directory must exist and be
    writable, and `path` itself must not be a directory."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"{path}: the directory {parent} does not exist")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a file to write")
    if not os.access(parent, os.W_OK):
        raise PermissionError(f"{path}: the directory {parent} is not writable")
    return path
