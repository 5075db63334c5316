"""Grid conditions: how old the neighbour states are that a cell reads when it fires on a real grid.

Measured on the grid twin (`python -m twin staleness --out FILE`, twin/measure.py), one entry per
condition (clean, dead boards, corrupted bytes) and slot kind (orthogonal, diagonal): the share of
firings that read a living neighbour's latest state, the one before it, an older one, or an empty
slot (zeros: a lost relay or a timeout), and which neighbours relay the diagonals. The trainer
trains in them and a model file records them (meta.grid_conditions: what the rule was trained
for); `trainer eval --grid` evaluates in them.
A conditions file comes from outside like any file: everything is checked on the way in.
"""
import json
import math
from pathlib import Path

from rule.files import REPO, atomic_write, read_json

FORMAT = "nca-grid-conditions"
VERSION = 1
AGES = ("latest", "one behind", "older", "empty")
SLOT_KINDS = ("orthogonal", "diagonal")
# the conditions the twin measures, in order; "dead boards" is the one trained and evaluated with
# dead boards (their relays lost too), the others without
CLEAN, DEAD, CORRUPT = "clean", "dead boards", "corrupted bytes"
NAMES = (CLEAN, DEAD, CORRUPT)
# which neighbours relay a cell's diagonals (docs/link-protocol.md), so which dead boards take
# them: "east-west" (link protocol 3: only the east or west neighbour; files without the field)
# or "both" (link protocol 4: the east or west one and the north or south one, frame by frame)
EAST_WEST, BOTH = "east-west", "both"
RELAYS = (EAST_WEST, BOTH)
RELAYS_OF_LINK_VERSION = {3: EAST_WEST, 4: BOTH}
RELAYS_SAY = {EAST_WEST: "diagonals relayed by the east or west neighbour (link protocol 3)",
              BOTH: "diagonals relayed by the east or west and the north or south neighbour (link protocol 4)"}
DEFAULT_FILE = REPO / "models" / "grid-conditions.json"
MAX_BYTES = 16384


class ConditionsError(ValueError):
    def __init__(self, where, field, problem):
        self.where, self.field, self.problem = str(where), field, problem
        super().__init__(f"{where}: {field}: {problem}")


def _shares(value, where, field) -> list:
    ok = (isinstance(value, list) and len(value) == len(AGES)
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v <= 1
                  for v in value))
    if not ok:
        raise ConditionsError(where, field, f"expected {len(AGES)} shares in [0, 1] ({', '.join(AGES)}), "
                                            f"got {value!r:.80}")
    if abs(sum(value) - 1) > 1e-3:
        raise ConditionsError(where, field, f"expected shares that add up to 1, got {sum(value):.4f}")
    return [float(v) for v in value]


def check(obj, where="<conditions>") -> dict:
    """The conditions in `obj` (parsed JSON), normalised; ConditionsError naming the field if not valid."""
    if not isinstance(obj, dict):
        raise ConditionsError(where, "file", f"expected a JSON object, got {type(obj).__name__}")
    if obj.get("format") != FORMAT or obj.get("version") != VERSION:
        raise ConditionsError(where, "format", f"expected {FORMAT!r} version {VERSION}, got "
                                               f"{obj.get('format')!r:.40} version {obj.get('version')!r:.20}")
    conds = obj.get("conditions")
    if not isinstance(conds, dict) or CLEAN not in conds or not set(conds) <= set(NAMES):
        raise ConditionsError(where, "conditions", f"expected an object with {CLEAN!r} and at most "
                                                   f"{', '.join(map(repr, NAMES))}, got {conds!r:.80}")
    out = {}
    for name in NAMES:
        if name in conds:
            c = conds[name]
            if not isinstance(c, dict):
                raise ConditionsError(where, f"conditions.{name}", f"expected an object, got {c!r:.60}")
            out[name] = {kind: _shares(c.get(kind), where, f"conditions.{name}.{kind}") for kind in SLOT_KINDS}
    relays = obj.get("relays", EAST_WEST)
    if relays not in RELAYS:
        raise ConditionsError(where, "relays", f"expected one of {', '.join(map(repr, RELAYS))}, got {relays!r:.40}")
    measured = obj.get("measured", {})
    if not isinstance(measured, dict) or len(json.dumps(measured)) > 2048:
        raise ConditionsError(where, "measured", "expected a small JSON object saying how it was measured")
    return {"format": FORMAT, "version": VERSION, "measured": measured, "relays": relays, "conditions": out}


def load(path) -> dict:
    obj = read_json(path, MAX_BYTES, ConditionsError,
                    "no such file (measure one with python -m twin staleness --out FILE)")
    return check(obj, path)


def save(conditions: dict, path) -> Path:
    conditions = check(conditions, path)
    with atomic_write(path) as tmp:
        Path(tmp).write_text(json.dumps(conditions, indent=1) + "\n")
    return Path(path)


def resolve(path: str) -> Path:
    """A conditions file named on a command line or in a config: as given, else in the repository
    (so the default, models/grid-conditions.json, works from any folder)."""
    p = Path(path)
    return p if p.is_absolute() or p.exists() else REPO / p
