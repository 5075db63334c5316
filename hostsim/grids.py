"""Grid set-ups shared by `run` and `check`: parsing, seeding, damage."""
import re

import numpy as np

from trainer import spec


class UsageError(ValueError):
    pass


def parse_grid(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text or "")
    if not m or not (1 <= int(m[1]) <= 65535 and 1 <= int(m[2]) <= 65535):
        raise UsageError(f"--grid: expected WIDTHxHEIGHT like 24x24 (1..65535 each), got {text!r}")
    return int(m[1]), int(m[2])


def parse_point(text: str, width: int, height: int, option: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*,\s*(\d+)\s*", text or "")
    if not m or not (int(m[1]) < width and int(m[2]) < height):
        raise UsageError(f"{option}: expected X,Y inside the {width}x{height} grid, got {text!r}")
    return int(m[1]), int(m[2])


def parse_rect(text: str, width: int, height: int) -> tuple[int, int, int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*", text or "")
    if not m:
        raise UsageError(f"--damage-rect: expected X0,Y0,X1,Y1 (X1, Y1 exclusive), got {text!r}")
    x0, y0, x1, y1 = map(int, m.groups())
    if not (x0 < x1 <= width and y0 < y1 <= height):
        raise UsageError(f"--damage-rect: {text!r} is empty or outside the {width}x{height} grid")
    return x0, y0, x1, y1


def seeded(width: int, height: int, at=None) -> np.ndarray:
    """int8 [height, width, 16]: the article's seed (alpha and hidden at 1.0) at `at` or the centre."""
    g = np.zeros((height, width, spec.CHANNELS), np.int8)
    x, y = at if at is not None else (width // 2, height // 2)
    g[y, x, spec.ALPHA:] = 1 << spec.STATE_FRAC_BITS
    return g


def random_grid(width: int, height: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, (height, width, spec.CHANNELS)).astype(np.int8)


def erase(g: np.ndarray, rect) -> np.ndarray:
    x0, y0, x1, y1 = rect
    g[y0:y1, x0:x1] = 0
    return g
