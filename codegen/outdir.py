"""The output folder of codegen: its files are one set, replaced as one, and described by a
manifest that says which model they came from.

A reader (PlatformIO's build, a user) sees either the old set or the new one, never a mix:
the new set is written into a staging folder beside the output, then swapped in by a single
rename (renameat2 RENAME_EXCHANGE on Linux; elsewhere two renames, so for an instant there is
no folder, never a mixed one). A staging folder left by a killed build is removed by the next.
The manifest (written last into the staging folder) records the model's path, name and rule
hash and the sha256 of every file, so a hand-edited or half-copied folder is recognised.
"""
import ctypes
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from rule.files import umask

MANIFEST = "nca_manifest.json"
GENERATOR = "nca-cells codegen"


class OutDirError(ValueError):
    pass


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def manifest(files: dict, rule, model_path: Path, out: Path, codegen_version: str, by: str) -> dict:
    """What a set was made from. The model path is kept relative to the output folder, so a
    project that moves as a whole still finds it."""
    model = Path(os.path.abspath(model_path))
    try:
        recorded = os.path.relpath(model, os.path.abspath(out))
    except ValueError:  # another drive (Windows)
        recorded = str(model)
    return {"generator": GENERATOR, "codegen_version": codegen_version,
            "model": {"path": recorded, "name": rule.name, "rule_hash": rule.content_hash()}, "by": by,
            "files": {name: sha256(text) for name, text in sorted(files.items())}}


def model_path(out: Path, man: dict) -> Path:
    """The model file a manifest names (relative paths are from the output folder)."""
    p = Path(man["model"]["path"])
    return p if p.is_absolute() else Path(os.path.normpath(Path(os.path.abspath(out)) / p))


def read_manifest(out: Path):
    """(manifest, None) if `out` holds a complete, unedited set; else (manifest or None, problem)."""
    out = Path(out)
    if not out.is_dir():
        return None, f"{out} does not exist"
    try:
        man = json.loads((out / MANIFEST).read_text())
        files, model = man["files"], man["model"]
        if man.get("generator") != GENERATOR or not isinstance(files, dict) or not isinstance(model, dict):
            raise ValueError("not a codegen manifest")
        str(model["path"]), str(model["name"]), str(model["rule_hash"])
    except FileNotFoundError:
        return None, f"{out / MANIFEST} is missing (not written by this codegen, or an interrupted copy)"
    except (OSError, ValueError, KeyError, TypeError) as e:
        return None, f"{out / MANIFEST} is unreadable ({e})"
    edited = []
    for name, digest in files.items():
        path = out / Path(name).name
        if not path.is_file() or sha256(path.read_text(errors="replace")) != digest:
            edited.append(name)
    if edited:
        return man, f"{', '.join(edited)} in {out} differ from what codegen wrote (edited by hand?)"
    return man, None


def write_set(out: Path, files: dict, man: dict) -> None:
    """Replace the folder `out` by exactly `files` + the manifest, as one step."""
    out = Path(out)
    parent = out.parent
    parent.mkdir(parents=True, exist_ok=True)
    _refuse_foreign(out, set(files) | {MANIFEST})
    remove_stale_staging(out)
    staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}.staging-{os.getpid()}-"))
    try:
        os.chmod(staging, 0o777 & ~umask())  # mkdtemp makes 0700: a folder others may build from
        for name, text in list(files.items()) + [(MANIFEST, json.dumps(man, indent=1) + "\n")]:
            _write(staging / name, text)
        _fsync_dir(staging)
        if out.exists():
            if not _exchange(staging, out):  # no atomic swap here: move the old set away first
                old = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}.staging-{os.getpid()}-"))
                os.rmdir(old)
                os.rename(out, old)
                os.rename(staging, out)
                staging = old
        else:
            os.rename(staging, out)
            staging = None
        _fsync_dir(parent)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def remove_stale_staging(out: Path) -> list:
    """Staging folders of builds that were killed (their process is gone)."""
    removed = []
    for d in out.parent.glob(f".{out.name}.staging-*"):
        pid = d.name[len(f".{out.name}.staging-"):].split("-")[0]
        if d.is_dir() and not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def _refuse_foreign(out: Path, ours: set) -> None:
    if out.exists() and not out.is_dir():
        raise OutDirError(f"{out} exists and is not a folder")
    if out.is_dir():
        # (NAME...tmp: a temp file an older codegen left when it was killed)
        foreign = sorted(p.name for p in out.iterdir()
                         if p.name not in ours and not any(p.name.startswith(n) and p.name.endswith(".tmp") for n in ours))
        if foreign:
            raise OutDirError(f"{out} holds files codegen did not write ({', '.join(foreign[:5])}"
                              f"{', ...' if len(foreign) > 5 else ''}): codegen replaces the whole folder, "
                              "so give it an empty or new one")


def _write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0644 under the usual umask
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system or kernel cannot
        return False
    raise OSError(err, f"swapping {a} and {b}: {os.strerror(err)}")


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
