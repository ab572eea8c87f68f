"""A full disk or quota while writing: recognise it and say it in one line (the path, the space needed, what is free).

`artifacts.atomic_path` owns every write; it calls `disk_full_error` when its block fails on a full disk, after
removing its temporary file, so the message's free space is what the user really has and the earlier file at
the path is untouched. The CLI calls it too, as the last net for a write outside `atomic_path` (a library's
own temporary folder).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from edgeseg.errors import EdgesegError

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# What libraries that swallow the errno say instead: torch.save's zip writer ("unexpected pos ...") and
# C++/protobuf writers that format strerror into their message.
_MARKERS = ("No space left on device", "Disk quota exceeded", "unexpected pos")


def is_disk_full(exc: BaseException) -> bool:
    """True if `exc`, or an exception it was raised from, is ENOSPC / EDQUOT."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in DISK_FULL_ERRNOS:
            return True
        if isinstance(e, (OSError, RuntimeError, ValueError)) and any(m in str(e) for m in _MARKERS):
            return True
        e = e.__cause__ or e.__context__
    return False


def free_bytes(path: str | Path) -> int | None:
    """Bytes this user can still write on the filesystem holding `path` (its nearest existing ancestor)."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        st = os.statvfs(p)
    except OSError:
        return None
    blocks = st.f_bfree if os.geteuid() == 0 else st.f_bavail  # root may use the reserved blocks
    return int(blocks * st.f_frsize)


def human(n: int | None) -> str:
    if n is None:
        return "an unknown amount"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def disk_full_error(path: str | Path, exc: BaseException, *, needed: int | None = None,
                    written: int | None = None) -> EdgesegError:
    """The one line for a write to `path` that failed on a full disk or quota.

    `needed`: the output's size when known (a checkpoint, JSON); otherwise `written`, what got out before the
    disk filled, is a lower bound."""
    path = Path(path)
    quota = any(isinstance(e, OSError) and e.errno == errno.EDQUOT for e in (exc, exc.__cause__, exc.__context__))
    what = "disk quota exceeded" if quota else "no space left on the device"
    if needed:
        need = f"it needs {human(needed)}"
    elif written:
        need = f"it needs more than {human(written)}"
    elif path.is_file() and path.stat().st_size:
        need = f"it needs about {human(path.stat().st_size)} (the size of the file it replaces)"
    else:
        need = "it needs more space"
    return EdgesegError(f"{path}: {what}; {need} and {human(free_bytes(path.parent))} is free there; nothing was "
                        f"written (any earlier file there is unchanged): free space or choose another output path")
