"""Weight sharing (Han et al. 2016, "trained quantization"; Core ML calls it palettization):
each layer's int8 weights take at most `size` distinct values, so the cell stores a 4-bit index
per weight and a 16-entry table per layer (5 bits and 32 entries for up to 32 values; docs/cell-rule.md,
"Weight storage").

The values stay int8 integers: the integer rule does not change, only which integers a layer
may use. In QAT the palette is recomputed from the float weights at every iteration (a 1-D
k-means, rounded to integers) and gradients pass straight through to the float weights.
Computed in float64 with numpy so that it is the same on every machine and device.
"""
import numpy as np

from rule import spec

KMEANS_ITERATIONS = 8


def nearest(x: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of the nearest of the sorted, distinct `values` for each x (ties: the lower)."""
    return np.searchsorted((values[1:] + values[:-1]) / 2, x, side="left")


def palettize(scaled: np.ndarray, size: int) -> np.ndarray:
    """Scaled float weights (real * 2^e) -> integers in [-127, 127] with at most `size` distinct
    values. Plain rounding when that already gives few enough values (so a rule's integers
    come back unchanged); otherwise each weight goes to the nearest of `size` k-means centres
    (quantile start), rounded."""
    x = np.asarray(scaled, np.float64)
    rounded = np.clip(np.round(x), -spec.WEIGHT_MAX, spec.WEIGHT_MAX)
    if size <= 0 or len(np.unique(rounded)) <= size:
        return rounded
    flat = np.sort(x.ravel())
    centres = np.quantile(flat, (np.arange(size) + 0.5) / size)
    for _ in range(KMEANS_ITERATIONS):
        member = nearest(flat, centres)
        count = np.bincount(member, minlength=size)
        total = np.bincount(member, flat, minlength=size)
        centres = np.sort(np.where(count > 0, total / np.maximum(count, 1), centres))
    values = np.unique(np.clip(np.round(centres), -spec.WEIGHT_MAX, spec.WEIGHT_MAX))
    return values[nearest(x, values)]
