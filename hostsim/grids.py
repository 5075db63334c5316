"""Grid set-ups shared by `run` and `check`: parsing, seeding, damage."""
import os
import re

import numpy as np

from rule import cli, spec


UsageError = cli.UsageError
GRID_MAX = 65535   # the host's grid (the C stepper takes uint16 sides); boards stop at spec.GRID_MAX


def bytes_per_cell(hidden: int) -> int:
    """Peak memory of one cell in the integer model's update (int64 perception and its float64
    copy, the hidden layer as float64 and int64), with room to spare."""
    return 3 * 8 * (spec.PERCEPTION + hidden) + 64 * spec.CHANNELS


def available_memory() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fits_memory(width: int, height: int, hidden: int, option: str = "--grid") -> None:
    """Refuse up front a grid the integer model cannot hold, instead of dying in an allocation."""
    need, have = width * height * bytes_per_cell(hidden), available_memory()
    if need > have // 2:
        raise UsageError(f"{option}: a {width}x{height} grid needs about {need / 2 ** 30:.1f} GiB for a rule with "
                         f"{hidden} hidden units; this machine has {have / 2 ** 30:.1f} GiB available: use a smaller grid")


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


def seeded(width: int, height: int, at=None, cell=spec.SEED_CELL) -> np.ndarray:
    """int8 [height, width, 16]: the seed `cell` (a rule's seed_cell) at `at` or the centre, all else 0."""
    g = np.zeros((height, width, spec.CHANNELS), np.int8)
    x, y = at if at is not None else (width // 2, height // 2)
    g[y, x] = cell
    return g


def random_grid(width: int, height: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-128, 128, (height, width, spec.CHANNELS)).astype(np.int8)


def erase(g: np.ndarray, rect) -> np.ndarray:
    x0, y0, x1, y1 = rect
    g[y0:y1, x0:x1] = 0
    return g
