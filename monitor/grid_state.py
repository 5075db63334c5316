"""The grid as the host sees it, assembled from the lines boards print on their USB serial
(docs/grid.md, "The host's view"): a lone board's "S" lines, or a gateway's "R" reports of every
board. Survives garbage bytes, partial lines, unknown lines, and boards that fall silent."""
import time

import numpy as np

from trainer import spec

MAX_LINE = 256     # a longer run of bytes without a newline is garbage
UNKNOWN = 0xFF     # coordinate not learnt (cell.h CELL_UNKNOWN)


class GridState:
    def __init__(self, width: int | None = None, height: int | None = None, silent_after_s: float = 15.0):
        self.width, self.height = width, height
        self.silent_after_s = silent_after_s
        self.rgba = {}            # (x, y) -> int8 [R, G, B, A] of the last report
        self.heard = {}           # (x, y) -> host time of the last report
        self.hello = None         # (rule id, model name) of the attached board
        self.attached = None      # the attached board's last "S" line: dict
        self.reports = self.lines = self.bad_lines = 0
        self.errors = []          # "E" lines: the attached board refused a command
        self._partial = b""

    def feed(self, data: bytes, now: float | None = None):
        """Bytes from the serial port, in any chunks."""
        now = time.monotonic() if now is None else now
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE:
            self._partial = b""
            self.bad_lines += 1
        for raw in lines:
            self.feed_line(raw.decode("ascii", errors="replace").strip("\r"), now)

    def feed_line(self, line: str, now: float | None = None):
        now = time.monotonic() if now is None else now
        if not line.strip():
            return
        self.lines += 1
        try:
            self._parse(line.split(), now)
        except (ValueError, IndexError):
            self.bad_lines += 1

    def _parse(self, f: list, now: float):
        if f[0] == "R" and len(f) == 2 and len(f[1]) == 12:
            x, y, *rgba = bytes.fromhex(f[1])
            if x == UNKNOWN or y == UNKNOWN or (self.width and x >= self.width) or (self.height and y >= self.height):
                raise ValueError("report from outside the grid")
            self.rgba[(x, y)] = np.array(rgba, np.uint8).view(np.int8)
            self.heard[(x, y)] = now
            self.reports += 1
        elif f[0] == "S" and len(f) == 8 and len(f[2]) == 2 * spec.CHANNELS:
            state = np.frombuffer(bytes.fromhex(f[2]), np.int8)
            self.attached = dict(fires=int(f[1], 16), state=state, good=int(f[3], 16), bad=int(f[4], 16),
                                 x=int(f[5], 16), y=int(f[6], 16), hops=int(f[7], 16), at=now)
        elif f[0] == "H" and len(f) >= 6 and f[1] == "nca-cell":
            self.hello = (f[3], f[4])
            if len(f) >= 7 and self.width is None:
                self.width, self.height = int(f[5]), int(f[6])
        elif f[0] == "E":
            self.errors.append(" ".join(f[1:]))
        else:
            raise ValueError(f"unknown line {f[0]!r}")

    @property
    def grid_mode(self) -> bool:
        """A gateway's reports define the grid; without any, the picture is the attached board."""
        return bool(self.rgba)

    def size(self) -> tuple:
        if not self.grid_mode:
            return (self.width or 1, self.height or 1) if self._attached_xy() else (1, 1)
        w = max([x for x, _ in self.rgba] + [(self.width or 0) - 1]) + 1
        h = max([y for _, y in self.rgba] + [(self.height or 0) - 1]) + 1
        return w, h

    def _attached_xy(self):
        a = self.attached
        return (a["x"], a["y"]) if a and a["x"] != UNKNOWN else None

    def cells(self) -> dict:
        """(x, y) -> int8 RGBA of every board heard from."""
        if self.grid_mode:
            return dict(self.rgba)
        if self.attached is None:
            return {}
        return {self._attached_xy() or (0, 0): self.attached["state"][:4]}

    def int8_array(self) -> np.ndarray:
        """RGBA [H, W, 4] as the boards hold it (int8); boards not heard from are empty."""
        w, h = self.size()
        out = np.zeros((h, w, 4), np.int8)
        for (x, y), v in self.cells().items():
            out[y, x] = v
        return out

    def rgba_array(self) -> np.ndarray:
        """Premultiplied RGBA [H, W, 4] in [0, 1] units, as training sees it."""
        return self.int8_array().astype(np.float32) / 2 ** spec.STATE_FRAC_BITS

    def silent(self, now: float | None = None) -> list:
        """Boards of the grid not heard from lately (or never), in grid mode."""
        now = time.monotonic() if now is None else now
        if not self.grid_mode:
            return []
        w, h = self.size()
        return [(x, y) for y in range(h) for x in range(w)
                if now - self.heard.get((x, y), -1e18) > self.silent_after_s]

    def loss(self, target: np.ndarray) -> float:
        """Mean squared error of the RGBA picture against a target [H, W, 4] (as in training)."""
        rgba = self.rgba_array()
        if rgba.shape != target.shape:
            raise ValueError(f"the grid is {rgba.shape[1]}x{rgba.shape[0]}, the target {target.shape[1]}x{target.shape[0]}")
        return float(((rgba - target) ** 2).mean())
