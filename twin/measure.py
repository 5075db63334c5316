"""What the trainer needs to know of a grid: how old each neighbour's state is when a cell fires,
measured from a trace of rule updates (the twin's or the emulated grid's: the same records)."""
import numpy as np

from rule import boardlines, conditions, intmodel, spec

DIAGONAL = {0, 2, 5, 7}   # NW, NE, SW, SE in nca_rule.h's slot order


def staleness(records: np.ndarray, relays: str) -> dict:
    """For every update of a board with a living neighbour in a slot, how many of that
    neighbour's own updates it is behind: 0 (its latest), 1, 2 or more, or an empty slot (zeros:
    a lost relay or a timeout). Diagonals whose relaying boards (the east or west one, and with
    `relays` "both" also the north or south one: rule/conditions.py) never updated, boards dead
    from the start, are not counted: training models those lost relays itself.
    Returns {'orthogonal'|'diagonal': {'share': [p0, p1, p2+, empty], 'count': n}} over all boards."""
    by_board = {}
    order = np.lexsort((records["ms"], records["y"], records["x"]))
    for i in order:
        by_board.setdefault((int(records["x"][i]), int(records["y"][i])), []).append(i)
    by_board = {k: np.array(v) for k, v in by_board.items()}
    counts = {"orthogonal": np.zeros(4, np.int64), "diagonal": np.zeros(4, np.int64)}
    for (x, y), idx in by_board.items():
        ms = records["ms"][idx]
        for slot, (row, col) in enumerate(intmodel.NEIGHBOUR_ORDER):
            n_idx = by_board.get((x + col - 1, y + row - 1))
            relayed_by = [(x + col - 1, y)] + ([(x, y + row - 1)] if relays == conditions.BOTH else [])
            if n_idx is None or (slot in DIAGONAL and not any(r in by_board for r in relayed_by)):
                continue
            n_ms, n_out = records["ms"][n_idx], records["output"][n_idx]
            j = np.searchsorted(n_ms, ms, side="right")      # the neighbour's updates before each of ours
            ok = j >= 1
            latest = n_out[np.maximum(j - 1, 0)]
            ok &= latest[:, spec.ALPHA] > spec.ALIVE_THRESHOLD   # a living neighbour
            held = records["inputs"][idx, 1 + slot]
            age0 = ok & (held == latest).all(axis=1)
            before = n_out[np.maximum(j - 2, 0)]
            age1 = ok & ~age0 & (j >= 2) & (held == before).all(axis=1)
            empty = ok & ~age0 & ~age1 & (held == 0).all(axis=1)
            kind = "diagonal" if slot in DIAGONAL else "orthogonal"
            counts[kind] += [int(age0.sum()), int(age1.sum()), int((ok & ~age0 & ~age1 & ~empty).sum()),
                             int(empty.sum())]
    return {kind: {"share": (c / max(1, c.sum())).tolist(), "count": int(c.sum())} for kind, c in counts.items()}


def firing_interval_ms(records: np.ndarray) -> float:
    """Mean time between a board's successive rule updates."""
    order = np.lexsort((records["ms"], records["y"], records["x"]))
    xs, ys, ms = records["x"][order], records["y"][order], records["ms"][order].astype(np.int64)
    same = (xs[1:] == xs[:-1]) & (ys[1:] == ys[:-1])
    gaps = (ms[1:] - ms[:-1])[same]
    return float(gaps.mean()) if len(gaps) else float("nan")


def boards_own(lines, size, until_ms) -> np.ndarray:
    """int8 RGBA [H, W, 4]: each board's state from its own last S line before until_ms."""
    state = np.zeros((size[1], size[0], 4), np.int8)
    for ms, x, y, s in boardlines.statuses(lines):
        if ms <= until_ms:
            state[y, x] = s.state[:4]
    return state


def own_loss(lines, size, until_ms, target, living=None) -> float:
    """The boards' own loss against the target (on the living boards only, if given)."""
    error = (boards_own(lines, size, until_ms) / 2 ** spec.STATE_FRAC_BITS - target) ** 2
    return float(error.mean() if living is None else error[living].mean())
