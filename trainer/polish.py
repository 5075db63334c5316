"""Polish a trained rule's integers: move one palette value at a time by +-1, or one of layer 2's
biases by half a state unit, and keep the move when the training check (evaluate.check_score:
growth, persistence and regeneration on other schedule seeds than eval's) gets better.

QAT trains the float weights behind the palette; the palette's values themselves are k-means
centres of those floats and never see a gradient. Moving one value moves every weight of its
cluster, the same integer rule otherwise (same exponents, palette size), so the result runs on
the same firmware. Greedy, first improvement, sweep after sweep.
"""
import dataclasses
import math
from typing import Callable

import numpy as np
from tqdm import tqdm

from rule import spec
from rule.modelfile import CellRule

LAYERS = ("w1", "w2")


def moves(rule: CellRule):
    """(layer, key, new) for every palette value +-1 that stays a distinct int8 weight (key: the
    value), then every output channel's layer-2 bias +-half a state unit (layer "b2", key: the channel)."""
    for layer in LAYERS:
        values = set(np.unique(getattr(rule, layer)).tolist())
        for v in sorted(values):
            for new in (v + 1, v - 1):
                if abs(new) <= spec.WEIGHT_MAX and new not in values:
                    yield layer, v, new
    for c, shift in enumerate(rule.shift2):
        step = 1 << max(0, shift - 1)
        for new in (int(rule.b2[c]) + step, int(rule.b2[c]) - step):
            if spec.BIAS_MIN <= new <= spec.BIAS_MAX:
                yield "b2", c, new


def moved(rule: CellRule, layer: str, key: int, new: int) -> CellRule:
    """`rule` with every weight of `layer` equal to `key` set to `new` (b2: channel key's bias)."""
    if layer == "b2":
        b2 = rule.b2.copy()
        b2[key] = new
        return dataclasses.replace(rule, b2=b2)
    w = getattr(rule, layer)
    return dataclasses.replace(rule, **{layer: np.where(w == key, new, w).astype(np.int8)})


def applies(rule: CellRule, start: CellRule, layer: str, key: int, new: int) -> bool:
    """Whether a move listed at the sweep's start (`start`) still applies: no earlier move of
    the sweep took its value (or changed its bias)."""
    if layer == "b2":
        return rule.b2[key] == start.b2[key]
    w = getattr(rule, layer)
    return key in w and new not in w


def polish(rule: CellRule, score: Callable, sweeps: int = 2, min_gain: float = 0.005,
           progress: bool = True, on_better: Callable | None = None) -> tuple:
    """(polished rule, [(layer, key, new, score)...], start score). score(rule, to_beat) -> float,
    lower is better. A move is kept if it beats the best score by min_gain (a share: below that
    is within the check's noise); a sweep tries every move once, and the search stops after
    `sweeps` or a sweep that kept nothing. on_better(rule, kept, start) is called at each better rule."""
    best = score(rule, math.inf)
    start, kept = best, []
    for sweep in range(sweeps):
        at_start, candidates = rule, list(moves(rule))
        bar = tqdm(candidates, desc=f"polish, sweep {sweep + 1}/{sweeps}", unit="move", leave=False,
                   disable=not progress)
        before = len(kept)
        for layer, key, new in bar:
            if not applies(rule, at_start, layer, key, new):
                continue
            candidate = moved(rule, layer, key, new)
            s = score(candidate, best)
            if s < best * (1 - min_gain):
                rule, best = candidate, s
                kept.append((layer, key, new, s))
                bar.set_postfix_str(f"check {best:.3e}" + (f" ({start / best:.3f}x better)" if best > 0 else ""))
                if on_better:
                    on_better(rule, kept, start)
        bar.close()
        if len(kept) == before:
            break
    return rule, kept, start
