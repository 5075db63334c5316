"""A plain-Python, one-cell-at-a-time reading of docs/cell-rule.md: the slow third opinion that
the integer model (and later the C) is checked against. Python's >> is floor division."""
from rule import spec


def round_shift(v: int, k: int) -> int:
    return (v + (1 << (k - 1))) >> k


def sat(v: int, lo: int, hi: int) -> int:
    return min(max(v, lo), hi)


class ScalarRule:
    def __init__(self, rule):
        self.w1, self.b1 = rule.w1.tolist(), rule.b1.tolist()
        self.w2, self.b2 = rule.w2.tolist(), rule.b2.tolist()
        self.k1 = 6 + rule.w1_exp - 7
        self.k2 = [7 + rule.w2_exp - f for f in rule.state_frac]   # per output channel: its state units

    def fire(self, n) -> list:
        """n(dx, dy) -> 16 ints, n(0, 0) the cell itself. Returns the cell's new state."""
        A, T = spec.ALPHA, spec.ALIVE_THRESHOLD
        s = n(0, 0)
        nb = max(n(dx, dy)[A] for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dx, dy) != (0, 0))
        if not max(s[A], nb) > T:
            return [0] * spec.CHANNELS
        p = []
        for c in range(spec.CHANNELS):
            gx = (n(1, -1)[c] + 2 * n(1, 0)[c] + n(1, 1)[c]) - (n(-1, -1)[c] + 2 * n(-1, 0)[c] + n(-1, 1)[c])
            gy = (n(-1, 1)[c] + 2 * n(0, 1)[c] + n(1, 1)[c]) - (n(-1, -1)[c] + 2 * n(0, -1)[c] + n(1, -1)[c])
            p += [s[c], sat(round_shift(gx, 3), -128, 127), sat(round_shift(gy, 3), -128, 127)]
        h = [sat(round_shift(b + sum(w * x for w, x in zip(row, p)), self.k1), 0, 255)
             for row, b in zip(self.w1, self.b1)]
        new = [sat(s[c] + round_shift(self.b2[c] + sum(w * x for w, x in zip(self.w2[c], h)), self.k2[c]), -128, 127)
               for c in range(spec.CHANNELS)]
        if not max(new[A], nb) > T:
            return [0] * spec.CHANNELS
        return new

    def fire_in_grid(self, grid, x: int, y: int) -> list:
        """grid: nested lists [H][W][16]; cells outside read as zeros."""
        H, W = len(grid), len(grid[0])
        zero = [0] * spec.CHANNELS
        return self.fire(lambda dx, dy: grid[y + dy][x + dx] if 0 <= x + dx < W and 0 <= y + dy < H else zero)
