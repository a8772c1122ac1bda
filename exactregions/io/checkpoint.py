"""Checkpoint files that run no code when they are read.

One ``.npz`` file holds a run's arrays and, beside them, a JSON header (as the bytes of an
array named :data:`HEADER`); it is read with ``np.load(..., allow_pickle=False)`` and
``json.loads``, so reading it never unpickles anything. The header says which kind of state the
file holds, the *fingerprint* of the run it belongs to (the network's weights, the domain's
parameters, the tolerances: :func:`exactregions.engines.parallel.fingerprint_of`) and a SHA-256
*checksum* of the arrays and the header's state, so that a checkpoint of another network or
domain, a truncated file or one whose arrays were changed is refused with one line. Files are
written atomically (a temporary file beside the target, renamed into place).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile

import numpy as np

#: the array that holds the JSON header
HEADER = "__header__"
#: the header layout this module writes and reads
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that belongs to another run, or that cannot be read as one."""


def _checksum(arrays: dict, state) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    h.update(json.dumps(state, sort_keys=True).encode())
    return h.hexdigest()


def _plain(o):
    """numpy scalars and arrays in a JSON state as Python numbers and lists."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"a checkpoint's state cannot hold a {type(o).__name__}")


def write_checkpoint(path, kind: str, fingerprint: str, arrays: dict, state) -> None:
    """Write ``arrays`` (name -> numpy array of numbers or booleans) and the JSON-able ``state``
    to ``path`` atomically, under ``kind`` and ``fingerprint``.

    Parameters
    ----------
    path : str or path
        The file (any name: it is an ``.npz`` archive whatever its suffix).
    kind : str
        What the file holds (``"bfs"``): a file of another kind is refused on reading.
    fingerprint : str
        Identifies the run the state belongs to.
    arrays : dict
        The state's arrays; object arrays are refused (they would need pickling).
    state : JSON-able
        The rest of the state.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> path = tempfile.mkdtemp() + "/state.npz"
    >>> write_checkpoint(path, "demo", "f00", {"x": np.arange(3)}, {"n": 3})
    >>> arrays, state = read_checkpoint(path, "demo", "f00")
    >>> arrays["x"].tolist(), state
    ([0, 1, 2], {'n': 3})
    """
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    bad = [k for k, v in arrays.items() if v.dtype.hasobject]
    if bad or HEADER in arrays:
        raise ValueError(f"checkpoint arrays must hold numbers, not objects: {', '.join(bad) or HEADER}")
    state = json.loads(json.dumps(state, default=_plain))  # (the state as it will read back)
    header = {"kind": kind, "version": VERSION, "fingerprint": fingerprint, "checksum": _checksum(arrays, state),
              "state": state}
    blob = np.frombuffer(json.dumps(header, sort_keys=True).encode(), dtype=np.uint8)
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp",
                               dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{HEADER: blob}, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_checkpoint(path, kind: str, fingerprint: str):
    """The ``(arrays, state)`` that :func:`write_checkpoint` wrote, or None if ``path`` does
    not exist.

    Raises
    ------
    CheckpointError
        One line: the file is no checkpoint of this kind, it belongs to another run (another
        fingerprint), or its content does not match its checksum.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(bytes(z[HEADER]).decode())
            arrays = {k: z[k] for k in z.files if k != HEADER}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint {path} is not a readable checkpoint ({e.__class__.__name__}: {e}): "
                              "use another file or delete it") from None
    if not isinstance(header, dict) or header.get("kind") != kind or header.get("version") != VERSION:
        got = header.get("kind") if isinstance(header, dict) else None
        raise CheckpointError(f"checkpoint {path} holds no {kind} state of version {VERSION} (it holds {got!r}): "
                              "use another file or delete it")
    if header.get("fingerprint") != fingerprint:
        raise CheckpointError(f"checkpoint {path} belongs to another network, domain or tolerances: "
                              "use another file or delete it")
    if header.get("checksum") != _checksum(arrays, header.get("state")):
        raise CheckpointError(f"checkpoint {path} does not match its checksum (changed or damaged): "
                              "use another file or delete it")
    return arrays, header["state"]
