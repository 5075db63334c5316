"""Pictures of the grid: true-colour terminal blocks, PNG and GIF (through rule.pictures)."""
import numpy as np

from monitor.grid_state import GridState
from rule.pictures import rgba_to_image

HOME, CLEAR_BELOW = "\x1b[H", "\x1b[J"


def terminal(grid: GridState, now: float | None = None) -> str:
    """Two character cells per board, true colour; a board not heard from lately shows as '··'."""
    rgb = np.asarray(rgba_to_image(grid.rgba_array(), scale=1))
    silent = set(grid.silent(now))
    rows = []
    for y, row in enumerate(rgb):
        cells = []
        for x, (r, g, b) in enumerate(row):
            if (x, y) in silent:
                cells.append("\x1b[48;2;40;40;40m\x1b[38;2;120;120;120m··")
            else:
                cells.append(f"\x1b[48;2;{r};{g};{b}m  ")
        rows.append("".join(cells) + "\x1b[0m")
    return "\n".join(rows)


def status(grid: GridState, now: float | None = None, target: np.ndarray | None = None) -> str:
    w, h = grid.size()
    parts = []
    if grid.hello:
        parts.append(f"rule {grid.hello[1]} ({grid.hello[0]})")
    if grid.grid_mode:
        silent = len(grid.silent(now))
        parts.append(f"{w}x{h} grid: {len(grid.rgba)} boards reported, {silent} silent")
    elif grid.attached:
        a = grid.attached
        parts.append(f"one board: {a['fires']} updates, frames {a['good']} good / {a['bad']} bad")
    else:
        parts.append("waiting for a board...")
    if target is not None and target.shape[:2] == (h, w):
        parts.append(f"loss {grid.loss(target):.2e}")
    if grid.bad_lines:
        parts.append(f"{grid.bad_lines} unreadable lines")
    if grid.errors:
        parts.append(f"board says: {grid.errors[-1]}")
    return " | ".join(parts)


def image(grid: GridState, scale: int = 8):
    return rgba_to_image(grid.rgba_array(), scale)
