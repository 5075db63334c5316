"""The model file: one .npz (no pickle) holding the int8 rule, its float twin and JSON metadata.

Arrays: w1 int8 [H, 48], b1 int16 [H], w2 int8 [16, H], b2 int16 [16]; optionally the float rule
(float_w1, float_b1, float_w2, float_b2, float32) and target float32 [height, width, 4].
`meta` holds UTF-8 JSON as uint8 bytes. Everything codegen needs is in here.
"""
import dataclasses
import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from trainer import spec

FORMAT = "nca-cell-rule"
VERSION = 1
# Constants of the integer rule that a model file records and this code implements.
RULE_CONSTANTS = {
    "channels": spec.CHANNELS,
    "alpha_channel": spec.ALPHA,
    "state_frac_bits": spec.STATE_FRAC_BITS,
    "hidden_frac_bits": spec.HIDDEN_FRAC_BITS,
    "sobel_shift": spec.SOBEL_SHIFT,
    "alive_threshold": spec.ALIVE_THRESHOLD,
}
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "lizard.npz"


class ModelFileError(ValueError):
    def __init__(self, path, field, problem):
        self.path, self.field, self.problem = str(path), field, problem
        super().__init__(f"{path}: {field}: {problem}")


@dataclasses.dataclass
class CellRule:
    w1: np.ndarray          # int8 [H, 48]
    b1: np.ndarray          # int16 [H]
    w2: np.ndarray          # int8 [16, H]
    b2: np.ndarray          # int16 [16]
    w1_exp: int
    w2_exp: int
    meta: dict = dataclasses.field(default_factory=dict)   # name, training info, ...
    float_params: dict | None = None   # float_w1, float_b1, float_w2, float_b2 (float32)
    target: np.ndarray | None = None   # float32 [height, width, 4], premultiplied RGBA

    @property
    def hidden(self) -> int:
        return int(self.w1.shape[0])

    @property
    def shift1(self) -> int:
        return spec.layer1_shift(self.w1_exp)

    @property
    def shift2(self) -> int:
        return spec.layer2_shift(self.w2_exp)

    @property
    def name(self) -> str:
        return self.meta.get("name", "unnamed")

    def content_hash(self) -> str:
        """SHA-256 over the integer rule (what the cells run), independent of file layout."""
        h = hashlib.sha256()
        h.update(json.dumps([self.w1_exp, self.w2_exp, RULE_CONSTANTS], sort_keys=True).encode())
        for a in (self.w1, self.b1, self.w2, self.b2):
            h.update(str(a.dtype).encode() + str(a.shape).encode() + np.ascontiguousarray(a).tobytes())
        return h.hexdigest()


def _check(path, field, ok, problem):
    if not ok:
        raise ModelFileError(path, field, problem)


def validate(rule: CellRule, path="<model>") -> CellRule:
    """Raise ModelFileError naming the field unless `rule` is a rule this code can run exactly."""
    H = rule.w1.shape[0] if rule.w1.ndim == 2 else -1
    shapes = {"w1": (H, spec.PERCEPTION), "b1": (H,), "w2": (spec.CHANNELS, H), "b2": (spec.CHANNELS,)}
    dtypes = {"w1": np.int8, "b1": np.int16, "w2": np.int8, "b2": np.int16}
    for name, shape in shapes.items():
        a = getattr(rule, name)
        _check(path, name, isinstance(a, np.ndarray), f"expected an array, got {type(a).__name__}")
        _check(path, name, a.dtype == dtypes[name],
               f"expected dtype {np.dtype(dtypes[name]).name}, got {a.dtype}")
        _check(path, name, a.shape == shape, f"expected shape {shape}, got {a.shape}")
    _check(path, "w1", 1 <= H <= 1024, f"expected 1..1024 hidden units, got {H}")
    for name in ("w1", "w2"):
        a = getattr(rule, name)
        lo, hi = int(a.min()), int(a.max())
        _check(path, name, -spec.WEIGHT_MAX <= lo and hi <= spec.WEIGHT_MAX,
               f"expected values in [-{spec.WEIGHT_MAX}, {spec.WEIGHT_MAX}], got [{lo}, {hi}]")
    for name in ("w1_exp", "w2_exp"):
        e = getattr(rule, name)
        _check(path, f"meta.{name}", isinstance(e, int) and not isinstance(e, bool),
               f"expected an integer, got {e!r}")
        _check(path, f"meta.{name}", spec.EXP_MIN <= e <= spec.EXP_MAX,
               f"expected {spec.EXP_MIN}..{spec.EXP_MAX}, got {e}")
    if rule.float_params is not None:
        for name, base in (("float_w1", "w1"), ("float_b1", "b1"), ("float_w2", "w2"), ("float_b2", "b2")):
            a = rule.float_params.get(name)
            _check(path, name, a is not None, "missing (the float rule needs all four arrays)")
            _check(path, name, a.dtype == np.float32, f"expected dtype float32, got {a.dtype}")
            _check(path, name, a.shape == getattr(rule, base).shape,
                   f"expected shape {getattr(rule, base).shape}, got {a.shape}")
            _check(path, name, bool(np.isfinite(a).all()), "contains NaN or infinity")
    if rule.target is not None:
        t = rule.target
        _check(path, "target", t.dtype == np.float32, f"expected dtype float32, got {t.dtype}")
        _check(path, "target", t.ndim == 3 and t.shape[2] == 4 and t.shape[0] >= 1 and t.shape[1] >= 1,
               f"expected shape (height, width, 4), got {t.shape}")
        _check(path, "target", bool(np.isfinite(t).all()), "contains NaN or infinity")
        _check(path, "target", float(t.min()) >= 0.0 and float(t.max()) <= 1.0,
               f"expected values in [0, 1], got [{t.min():.3g}, {t.max():.3g}]")
    return rule


def save(rule: CellRule, path) -> Path:
    """Validate, then write atomically (temp file in the same folder + os.replace)."""
    path = Path(path)
    validate(rule, path)
    meta = dict(rule.meta, format=FORMAT, version=VERSION, hidden=rule.hidden,
                w1_exp=rule.w1_exp, w2_exp=rule.w2_exp, rule=RULE_CONSTANTS)
    arrays = {"w1": rule.w1, "b1": rule.b1, "w2": rule.w2, "b2": rule.b2,
              "meta": np.frombuffer(json.dumps(meta, indent=1, sort_keys=True).encode(), np.uint8)}
    if rule.float_params is not None:
        arrays.update(rule.float_params)
    if rule.target is not None:
        arrays["target"] = rule.target
    atomic_savez(path, arrays)
    return path


def atomic_savez(path, arrays: dict, compress: bool = True) -> None:
    """Write an .npz so that `path` is either the old file or the complete new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a model file is for sharing
        with os.fdopen(fd, "wb") as f:
            (np.savez_compressed if compress else np.savez)(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load(path=None) -> CellRule:
    """Load and validate a model file; every problem is a ModelFileError naming file and field."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    _check(path, "file", path.is_file(), "no such file")
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as z:
            for key in z.files:
                try:
                    arrays[key] = z[key]
                except ValueError as e:  # object arrays need pickle: refused
                    raise ModelFileError(path, key, f"not a plain array ({e})") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        if isinstance(e, ModelFileError):
            raise
        raise ModelFileError(path, "file", f"not a readable .npz model file ({e})") from None
    for name in ("meta", "w1", "b1", "w2", "b2"):
        _check(path, name, name in arrays, "missing")
    try:
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFileError(path, "meta", f"not valid UTF-8 JSON ({e})") from None
    _check(path, "meta", isinstance(meta, dict), f"expected a JSON object, got {type(meta).__name__}")
    _check(path, "meta.format", meta.get("format") == FORMAT,
           f"expected {FORMAT!r}, got {meta.get('format')!r}")
    _check(path, "meta.version", meta.get("version") == VERSION,
           f"expected {VERSION}, got {meta.get('version')!r}")
    for key in ("w1_exp", "w2_exp", "rule"):
        _check(path, f"meta.{key}", key in meta, "missing")
    for key, want in RULE_CONSTANTS.items():
        got = meta["rule"].get(key) if isinstance(meta["rule"], dict) else None
        _check(path, f"meta.rule.{key}", got == want, f"expected {want}, got {got!r}")
    float_names = [k for k in arrays if k.startswith("float_")]
    rule = CellRule(
        w1=arrays["w1"], b1=arrays["b1"], w2=arrays["w2"], b2=arrays["b2"],
        w1_exp=meta["w1_exp"], w2_exp=meta["w2_exp"],
        meta={k: v for k, v in meta.items() if k not in ("format", "version", "hidden", "w1_exp", "w2_exp", "rule")},
        float_params={k: arrays[k] for k in float_names} if float_names else None,
        target=arrays.get("target"))
    return validate(rule, path)
