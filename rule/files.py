"""The repository's folders, the one atomic file write, and the content-hash build cache."""
import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "build"   # host-side build cache (git-ignored), one folder per tool


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path, mode: int = 0o666):
    """Yields a temporary path beside `path` to write; on success it replaces `path` in one rename
    (fsynced first), so `path` is the old file or the complete new one, never half of one; on any
    error the temporary file is removed. `mode` is applied through the umask (mkstemp makes 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        os.chmod(tmp, mode & ~umask())
        yield Path(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def read_json(path, max_bytes: int, error, missing: str = "no such file"):
    """The JSON in a file from anyone: at most max_bytes read, UTF-8, bounded nesting; any problem
    is error(path, "file", problem)."""
    path = Path(path)
    if not path.is_file():
        raise error(path, "file", missing)
    with open(path, "rb") as f:
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise error(path, "file", f"larger than {max_bytes} bytes: not a file of this kind")
    try:
        return json.loads(raw.decode())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise error(path, "file", f"not valid UTF-8 JSON ({e})") from None


def cached(tool: str, key_parts, name: str, make) -> Path:
    """build/<tool>/<hash of key_parts>/name, made by make(folder, temporary path) only if missing
    (rebuilt only when what goes into it changes), written atomically."""
    out = BUILD / tool / hashlib.sha256(repr(key_parts).encode()).hexdigest()[:16] / name
    if not out.is_file():
        with atomic_write(out, 0o777) as tmp:
            make(out.parent, str(tmp))
    return out
