"""Writing files so that a reader never sees half of one and nothing on disk is lost on failure."""

from __future__ import annotations

import errno
import os
import resource
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def naming(path: str | Path):
    """An OSError raised while writing `path` (a full disk, the file-size limit) says which file it was
    writing: Python's own says only "[Errno 27] File too large"."""
    try:
        yield
    except OSError as err:
        if err.filename is not None:
            raise
        hint = {errno.ENOSPC: " (the disk is full)", errno.EFBIG: " (the file-size limit, ulimit -f)",
                errno.EDQUOT: " (the disk quota)"}.get(err.errno, "")
        raise OSError(err.errno, f"{path}: {err.strerror or err}{hint}") from None


def check_room(path: str | Path, written: Path, n_bytes: int) -> None:
    """Fail before `n_bytes` more go into `written` (the temporary file of `path`) when the disk or the
    file-size limit has no room for them: HDF5 cannot be trusted to fail cleanly on a full disk."""
    size = written.stat().st_size if written.exists() else 0
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY and size + n_bytes > limit:
        raise OSError(errno.EFBIG, f"{path}: would grow past the file-size limit (ulimit -f: {limit} bytes)")
    if n_bytes > shutil.disk_usage(written.parent).free:
        raise OSError(errno.ENOSPC, f"{path}: no space left on the disk for the next {n_bytes / 2**20:.1f} MiB")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename over it. The file gets the mode any new file
    gets (0666 less the umask), not mkstemp's private 0600."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f, naming(path):
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


def failed_path(path: str | Path) -> Path:
    """Where a failed or interrupted run leaves what it wrote: beside PATH, never over it."""
    path = Path(path)
    return path.with_name(f"{path.stem}.failed{path.suffix}")


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one file, however they are spelled (symlinks, `./`, hard links)."""
    a, b = Path(a), Path(b)
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def check_distinct(source: str | Path, out: str | Path) -> None:
    """Refuse an output that is the input: writing it would destroy what is being read."""
    if same_file(source, out):
        raise ValueError(f"{out} is the input {source}: writing it would replace what is being read; choose another"
                         " output name")


class PartialFile:
    """A file being written: a fresh temporary name beside PATH (unique, created by this process, so never
    a stale file or a symlink someone left there, and never shared with another run writing the same PATH),
    renamed to PATH by `finish(True)` or to failed_path(PATH) by `finish(False)`. `check`, if given, reads
    the finished file back before it may replace PATH."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent if str(self.path.parent) else ".",
                                   prefix=f".{self.path.name}.", suffix=".partial")
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())
        self.tmp = Path(tmp)

    def finish(self, complete: bool, check=None) -> Path:
        """Where the file went: PATH when complete (and `check(tmp)` raised nothing), else its failed_path."""
        if complete and check is not None:
            try:
                check(self.tmp)
            except BaseException:
                os.replace(self.tmp, failed_path(self.path))
                raise
        final = self.path if complete else failed_path(self.path)
        os.replace(self.tmp, final)
        return final

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)
