"""The model file: one .npz (no pickle) holding the int8 rule, its float twin and JSON metadata.

Arrays: w1 int8 [H, 48], b1 int16 [H], w2 int8 [16, H], b2 int16 [16]; optionally the float rule
(float_w1, float_b1, float_w2, float_b2, float32) and target float32 [height, width, 4].
`meta` holds UTF-8 JSON as uint8 bytes. Everything codegen needs is in here.
"""
import dataclasses
import hashlib
import json
import re
from pathlib import Path

import numpy as np

from rule import conditions, spec
from rule.files import REPO
from rule.npzfile import NpzError, atomic_savez, read

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
DEFAULT_MODEL = REPO / "models" / "lizard.npz"


NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,32}")  # it goes into C, comments and the boards' hello line
META_MAX_BYTES = 65536
TARGET_MAX_VALUES = spec.GRID_MAX * spec.GRID_MAX * 4
# What a model file may hold: (dtypes, most values). Everything else is refused unread.
SCHEMA = {
    "meta": ((np.uint8,), META_MAX_BYTES),
    "w1": ((np.int8,), 1024 * spec.PERCEPTION), "b1": ((np.int16,), 1024),
    "w2": ((np.int8,), 1024 * spec.CHANNELS), "b2": ((np.int16,), spec.CHANNELS),
    "float_w1": ((np.float32,), 1024 * spec.PERCEPTION), "float_b1": ((np.float32,), 1024),
    "float_w2": ((np.float32,), 1024 * spec.CHANNELS), "float_b2": ((np.float32,), spec.CHANNELS),
    "target": ((np.float32,), TARGET_MAX_VALUES),
}


class ModelFileError(NpzError):
    """A model file problem: ModelFileError(path, field, problem)."""


def name_problem(name) -> str | None:
    """Why `name` cannot be a model name, or None. Names reach C source, comments and the hello
    line a board prints, so they are short and plain."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        return f"expected 1 to 32 characters from A-Z a-z 0-9 _ . -, got {name!r:.60}"
    return None


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
    # each channel's fraction bits: real value = int8 / 2^f_c (RGBA 6; a hidden channel 2..6)
    state_frac: tuple = spec.DEFAULT_STATE_FRAC

    @property
    def hidden(self) -> int:
        return int(self.w1.shape[0])

    @property
    def shift1(self) -> int:
        return spec.layer1_shift(self.w1_exp)

    @property
    def shift2(self) -> tuple:
        """Layer 2's rounding shift per output channel (to that channel's state units)."""
        return tuple(spec.layer2_shift(self.w2_exp, f) for f in self.state_frac)

    @property
    def seed_cell(self) -> tuple:
        return spec.seed_cell(self.state_frac)

    @property
    def name(self) -> str:
        return self.meta.get("name", "unnamed")

    def content_hash(self) -> str:
        """SHA-256 over the integer rule (what the cells run), independent of file layout."""
        h = hashlib.sha256()
        scales = [self.w1_exp, self.w2_exp, RULE_CONSTANTS]
        if tuple(self.state_frac) != spec.DEFAULT_STATE_FRAC:   # rules from before keep their hash
            scales.append(list(self.state_frac))
        h.update(json.dumps(scales, sort_keys=True).encode())
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
    problem = state_frac_problem(rule.state_frac)
    _check(path, "meta.state_frac", problem is None, problem)
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
        _check(path, "target", t.ndim == 3 and t.shape[2] == 4 and 1 <= t.shape[0] <= spec.GRID_MAX
               and 1 <= t.shape[1] <= spec.GRID_MAX,
               f"expected shape (height, width, 4), each side 1..{spec.GRID_MAX}, got {t.shape}")
        _check(path, "target", bool(np.isfinite(t).all()), "contains NaN or infinity")
        _check(path, "target", float(t.min()) >= 0.0 and float(t.max()) <= 1.0,
               f"expected values in [0, 1], got [{t.min():.3g}, {t.max():.3g}]")
    _check(path, "meta", isinstance(rule.meta, dict), f"expected a JSON object, got {type(rule.meta).__name__}")
    if "name" in rule.meta:
        problem = name_problem(rule.meta["name"])
        _check(path, "meta.name", problem is None, problem)
    if "palette" in rule.meta:  # what the rule was trained for: at most this many values per layer
        n = rule.meta["palette"]
        _check(path, "meta.palette", isinstance(n, int) and not isinstance(n, bool)
               and (n == 0 or 2 <= n <= spec.PALETTE_MAX), f"expected 0 or 2..{spec.PALETTE_MAX}, got {n!r:.60}")
        for name in ("w1", "w2") if n else ():
            got = len(np.unique(getattr(rule, name)))
            _check(path, name, got <= n, f"expected at most {n} distinct values (meta.palette), got {got}")
    if "grid_conditions" in rule.meta:   # the grid conditions it was trained for
        try:
            conditions.check(rule.meta["grid_conditions"], path)
        except conditions.ConditionsError as e:
            raise ModelFileError(path, f"meta.grid_conditions.{e.field}", e.problem) from None
    if "grid" in rule.meta:
        g = rule.meta["grid"]
        ok = (isinstance(g, list) and len(g) == 2
              and all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= spec.GRID_MAX for v in g))
        _check(path, "meta.grid", ok, f"expected [width, height], each an integer 1..{spec.GRID_MAX}, got {g!r:.60}")
        if rule.target is not None:
            want = [rule.target.shape[1], rule.target.shape[0]]
            _check(path, "meta.grid", g == want, f"expected {want} (the target's width and height), got {g}")
    return rule


def state_frac_problem(f) -> str | None:
    """Why `f` cannot be a rule's per-channel fraction bits, or None."""
    ok = (isinstance(f, (list, tuple)) and len(f) == spec.CHANNELS
          and all(isinstance(v, int) and not isinstance(v, bool) for v in f))
    if not ok:
        return f"expected {spec.CHANNELS} integers, got {f!r:.80}"
    if any(v != spec.STATE_FRAC_BITS for v in f[:spec.ALPHA + 1]):
        return f"expected {spec.STATE_FRAC_BITS} for RGBA (channels 0-{spec.ALPHA}), got {list(f[:spec.ALPHA + 1])}"
    if not all(spec.STATE_FRAC_MIN <= v <= spec.STATE_FRAC_BITS for v in f):
        return f"expected each in {spec.STATE_FRAC_MIN}..{spec.STATE_FRAC_BITS}, got {list(f)}"
    return None


def grid_size(rule: CellRule) -> tuple[int, int]:
    """(width, height) of the grid the rule was trained for: meta.grid, else the target's, else 24x24."""
    if "grid" in rule.meta:
        return tuple(rule.meta["grid"])
    if rule.target is not None:
        return rule.target.shape[1], rule.target.shape[0]
    return 24, 24


def save(rule: CellRule, path) -> Path:
    """Validate, then write atomically (temp file in the same folder + os.replace)."""
    path = Path(path)
    validate(rule, path)
    meta = dict(rule.meta, format=FORMAT, version=VERSION, hidden=rule.hidden,
                w1_exp=rule.w1_exp, w2_exp=rule.w2_exp, rule=RULE_CONSTANTS, state_frac=list(rule.state_frac))
    arrays = {"w1": rule.w1, "b1": rule.b1, "w2": rule.w2, "b2": rule.b2,
              "meta": np.frombuffer(json.dumps(meta, indent=1, sort_keys=True).encode(), np.uint8)}
    if rule.float_params is not None:
        arrays.update(rule.float_params)
    if rule.target is not None:
        arrays["target"] = rule.target
    atomic_savez(path, arrays)
    return path


def load(path=None) -> CellRule:
    """Load and validate a model file; every problem is a ModelFileError naming file and field."""
    path = Path(path) if path is not None else DEFAULT_MODEL
    arrays = read(path, SCHEMA, ModelFileError)
    for name in ("meta", "w1", "b1", "w2", "b2"):
        _check(path, name, name in arrays, "missing")
    meta = parse_meta(arrays.pop("meta"), path)
    _check(path, "meta.format", meta.get("format") == FORMAT,
           f"expected {FORMAT!r}, got {meta.get('format')!r:.60}")
    _check(path, "meta.version", meta.get("version") == VERSION,
           f"expected {VERSION}, got {meta.get('version')!r:.60}")
    for key in ("w1_exp", "w2_exp", "rule"):
        _check(path, f"meta.{key}", key in meta, "missing")
    for key, want in RULE_CONSTANTS.items():
        got = meta["rule"].get(key) if isinstance(meta["rule"], dict) else None
        _check(path, f"meta.rule.{key}", got == want, f"expected {want}, got {got!r:.60}")
    float_names = [k for k in arrays if k.startswith("float_")]
    rule = CellRule(
        w1=arrays["w1"], b1=arrays["b1"], w2=arrays["w2"], b2=arrays["b2"],
        w1_exp=meta["w1_exp"], w2_exp=meta["w2_exp"],
        state_frac=tuple(meta["state_frac"]) if isinstance(meta.get("state_frac"), list) else meta.get(
            "state_frac", spec.DEFAULT_STATE_FRAC),   # files from before it existed: all 6
        meta={k: v for k, v in meta.items() if k not in ("format", "version", "hidden", "w1_exp", "w2_exp", "rule",
                                                         "state_frac")},
        float_params={k: arrays[k] for k in float_names} if float_names else None,
        target=arrays.get("target"))
    return validate(rule, path)


def parse_meta(raw: np.ndarray, path) -> dict:
    """The JSON object stored as bytes; depth and size are bounded (a hostile file may try)."""
    _check(path, "meta", raw.ndim == 1, f"expected a 1-D byte array, got shape {raw.shape}")
    try:
        meta = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFileError(path, "meta", f"not valid UTF-8 JSON ({e})") from None
    except RecursionError:
        raise ModelFileError(path, "meta", "JSON nested too deeply") from None
    _check(path, "meta", isinstance(meta, dict), f"expected a JSON object, got {type(meta).__name__}")
    return meta
