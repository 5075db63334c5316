"""Plain .npz files (no pickle): written atomically, read with every member checked first.

A model file or a checkpoint may come from anyone. Before any array is read, each member's .npy
header is parsed (numpy's literal parser, bounded header size) and checked against a schema:
a known name, an allowed dtype, at most so many elements, and a stored size that matches the
header. So a lying header, a zip bomb, an object array or a 10^12-element shape is refused with
an error naming the member, before it costs memory.
"""
import zipfile
from pathlib import Path

import numpy as np
from numpy.lib import format as npy

from rule.files import atomic_write

MAX_MEMBERS = 64


class NpzError(ValueError):
    """A problem with one field (member) of an .npz file; `field` names it."""

    def __init__(self, path, field, problem):
        self.path, self.field, self.problem = str(path), field, problem
        super().__init__(f"{path}: {field}: {problem}")


def atomic_savez(path, arrays: dict, compress: bool = True) -> None:
    """Write an .npz so that `path` is either the old file or the complete new one, never half."""
    with atomic_write(path) as tmp, open(tmp, "wb") as f:
        (np.savez_compressed if compress else np.savez)(f, **arrays)


def read(path, schema: dict, error=NpzError, only=None) -> dict:
    """{name: array} of the .npz at `path`. schema: {name: (dtypes, max elements)}; a name ending
    in '*' matches any member with that prefix. only: read just these members (the rest are
    skipped unread). Raises `error(path, field, problem)`."""
    path = Path(path)
    if not path.is_file():
        raise error(path, "file", "no such file")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise error(path, "file", f"not a readable .npz file: not a zip archive ({e})") from None
    arrays = {}
    with zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise error(path, "file", f"expected at most {MAX_MEMBERS} arrays, got {len(members)}")
        for info in members:
            name = info.filename
            if not name.endswith(".npy"):
                raise error(path, repr(name)[1:-1], "not an .npy array member (a plain .npz holds only NAME.npy)")
            key = name[:-4]
            if only is not None and key not in only:
                continue
            rule = schema.get(key) or next((v for k, v in schema.items() if k.endswith("*") and
                                            key.startswith(k[:-1])), None)
            if rule is None:
                raise error(path, repr(key)[1:-1], f"unknown array (expected {', '.join(sorted(schema))})")
            if key in arrays:
                raise error(path, key, "stored twice")
            arrays[key] = _read_member(zf, info, key, rule, path, error)
    return arrays


def _read_member(zf, info, key, rule, path, error) -> np.ndarray:
    dtypes, max_elements = rule
    try:
        with zf.open(info) as f:
            version = npy.read_magic(f)
            if version not in ((1, 0), (2, 0), (3, 0)):
                raise ValueError(f"unknown .npy version {version}")
            read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            header_bytes = f.tell()
            if dtype.hasobject:
                raise error(path, key, "holds Python objects (needs pickle): refused")
            if not any(dtype == np.dtype(d) for d in dtypes):
                want = " or ".join(np.dtype(d).name for d in dtypes)
                raise error(path, key, f"expected dtype {want}, got {dtype}")
            count = int(np.prod(shape, dtype=object))
            if count > max_elements:
                raise error(path, key, f"expected at most {max_elements} values, got shape {shape}")
            if info.file_size != header_bytes + count * dtype.itemsize:
                raise error(path, key, f"stored size {info.file_size} bytes does not match its header "
                            f"(shape {shape}, {dtype})")
            data = f.read(count * dtype.itemsize)
            if len(data) != count * dtype.itemsize:
                raise ValueError(f"truncated: {len(data)} of {count * dtype.itemsize} bytes")
    except (ValueError, zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as e:
        if isinstance(e, NpzError):
            raise
        raise error(path, key, f"not a readable .npy array ({e})") from None
    a = np.frombuffer(data, dtype)
    return (a.reshape(shape[::-1]).T if fortran else a.reshape(shape)).copy()
