"""The grid as the host sees it, assembled from the lines boards print on their USB serial
(docs/grid.md, "The host's view"): a lone board's "S" lines, or a gateway's "R" reports of every
board. Any byte stream is survivable: garbage bytes, partial, overlong and unknown lines, sizes
and coordinates outside what the firmware can report (one byte each, 0xFF meaning unknown), and
boards that fall silent are counted or shown, never a reason to stop."""
import time

import numpy as np

from rule import boardlines, spec
from rule.boardlines import UNKNOWN

MAX_LINE = 256     # a longer run of bytes without a newline is garbage
KEEP_ERRORS = 10   # the board's last few "E" lines


class GridState:
    def __init__(self, width: int | None = None, height: int | None = None, silent_after_s: float = 15.0):
        self.width, self.height = width, height
        self.silent_after_s = silent_after_s
        self.rgba = {}            # (x, y) -> int8 [R, G, B, A] of the last report
        self.heard = {}           # (x, y) -> host time of the last report
        self.hello = None         # (rule id, model name) of the attached board, made safe to print
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
            self._parse(line, now)
        except (ValueError, IndexError):
            self.bad_lines += 1

    def _parse(self, line: str, now: float):
        msg = boardlines.parse(line)
        if isinstance(msg, boardlines.Report):
            if not self._inside(msg.x, msg.y):
                raise ValueError("report from outside the grid")
            self.rgba[(msg.x, msg.y)] = msg.rgba
            self.heard[(msg.x, msg.y)] = now
            self.reports += 1
        elif isinstance(msg, boardlines.Status):
            if not self._inside(msg.x, msg.y):   # a board told coordinates outside the grid: position unknown
                msg = msg._replace(x=UNKNOWN, y=UNKNOWN)
            self.attached = dict(msg._asdict(), at=now)
        elif isinstance(msg, boardlines.Hello):
            self.hello = (msg.rule_id, msg.name)
            if self.width is None:
                self.width, self.height = msg.width, msg.height
        else:
            self.errors = (self.errors + [msg.text])[-KEEP_ERRORS:]

    def _inside(self, x: int, y: int) -> bool:
        return x < (self.width or UNKNOWN) and y < (self.height or UNKNOWN)

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
        """The attached board's place, if it knows it and the grid's size is known."""
        a = self.attached
        return (a["x"], a["y"]) if a and a["x"] != UNKNOWN and self.width is not None else None

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
            if x < w and y < h:
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

