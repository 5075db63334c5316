"""The integer model (CPU or CUDA): runs the exact integer cell rule on a batch of grids
under the shared schedule, on CUDA when present and on the CPU otherwise, with identical bits.

Written apart from the QAT forward on purpose, as the reference it is checked against: states
are int8 [batch, height, width, 16], arithmetic is int32/int64, and the dense layers run as
float64 matmuls of integers, exact since every value stays far below 2^53.
"""
import torch
import torch.nn.functional as F

from rule import schedule, spec
from rule.modelfile import CellRule


class IntRule:
    """A CellRule's integer tensors on one device."""

    def __init__(self, rule: CellRule, device="cpu"):
        self.device = torch.device(device)
        self.w1 = torch.from_numpy(rule.w1.astype("float64")).to(self.device)
        self.w2 = torch.from_numpy(rule.w2.astype("float64")).to(self.device)
        self.b1 = torch.from_numpy(rule.b1.astype("int64")).to(self.device)
        self.b2 = torch.from_numpy(rule.b2.astype("int64")).to(self.device)
        self.k1 = rule.shift1
        self.k2 = torch.tensor(rule.shift2, dtype=torch.int64, device=self.device)  # per output channel


def round_shift(x: torch.Tensor, k) -> torch.Tensor:
    """Round half up: floor((x + 2^(k-1)) / 2^k), k >= 1 (an int, or int64 shifts along the last axis)."""
    return torch.div(x + (1 << (k - 1)), 1 << k, rounding_mode="floor")


def neighbours(s: torch.Tensor):
    """n(dy, dx): the [B, H, W, C] grid of each cell's neighbour at offset (dy, dx), zeros outside."""
    H, W = s.shape[1:3]
    p = F.pad(s, (0, 0, 1, 1, 1, 1))
    return lambda dy, dx: p[:, 1 + dy:1 + dy + H, 1 + dx:1 + dx + W]


def perceive(s: torch.Tensor) -> torch.Tensor:
    """int32 [B, H, W, 16] -> int64 [B, H, W, 48]: per channel [state, Sobel-x, Sobel-y]."""
    n = neighbours(s)
    gx = (n(-1, 1) + 2 * n(0, 1) + n(1, 1)) - (n(-1, -1) + 2 * n(0, -1) + n(1, -1))
    gy = (n(1, -1) + 2 * n(1, 0) + n(1, 1)) - (n(-1, -1) + 2 * n(-1, 0) + n(-1, 1))
    gx = torch.clamp(round_shift(gx, spec.SOBEL_SHIFT), -128, 127)
    gy = torch.clamp(round_shift(gy, spec.SOBEL_SHIFT), -128, 127)
    return torch.stack([s, gx, gy], dim=-1).flatten(-2).long()


def update(r: IntRule, s: torch.Tensor) -> torch.Tensor:
    """The rule applied to every cell (as if all fire): int32 [B, H, W, 16] -> int32."""
    p = perceive(s)
    a1 = (p.double() @ r.w1.T).long() + r.b1
    h = torch.clamp(round_shift(a1, r.k1), 0, spec.HIDDEN_MAX)
    a2 = (h.double() @ r.w2.T).long() + r.b2
    new = torch.clamp(s + round_shift(a2, r.k2), -128, 127).int()
    alpha = s[..., spec.ALPHA]
    n = neighbours(alpha[..., None])
    nb = torch.stack([n(dy, dx)[..., 0] for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]).amax(0)
    pre = torch.maximum(alpha, nb) > spec.ALIVE_THRESHOLD
    post = torch.maximum(new[..., spec.ALPHA], nb) > spec.ALIVE_THRESHOLD
    return torch.where((pre & post)[..., None], new, torch.zeros((), dtype=new.dtype, device=new.device))


def step(r: IntRule, states: torch.Tensor, seeds: torch.Tensor, step_index: int, threshold: int) -> torch.Tensor:
    """One scheduled step of int8 grids [B, H, W, 16]; seeds int64 [B]."""
    B, H, W, _ = states.shape
    fire = schedule.fire_mask(seeds, step_index, H, W, threshold)
    s = states.int()
    return torch.where(fire[..., None], update(r, s), s).to(torch.int8)


def seed_state(batch: int, height: int, width: int, device="cpu", cell=spec.SEED_CELL) -> torch.Tensor:
    """int8 [batch, height, width, 16]: the seed `cell` (a rule's seed_cell) in the centre, all else 0."""
    s = torch.zeros(batch, height, width, spec.CHANNELS, dtype=torch.int8, device=device)
    s[:, height // 2, width // 2] = torch.tensor(cell, dtype=torch.int8)
    return s


# nca_rule.h's neighbour order (NW, N, NE, W, E, SW, S, SE) as (row, column) in a 3x3 block
NEIGHBOUR_ORDER = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (2, 2)]


def fire_cells(r: IntRule, selves: torch.Tensor, nbrs: torch.Tensor) -> torch.Tensor:
    """One firing of n separate cells, as the generated C's nca_fire takes them:
    selves int8 [n, 16], nbrs int8 [n, 8, 16] in nca_rule.h order -> int8 [n, 16]."""
    g = torch.zeros(len(selves), 3, 3, spec.CHANNELS, dtype=torch.int32, device=r.device)
    for k, (y, x) in enumerate(NEIGHBOUR_ORDER):
        g[:, y, x] = nbrs[:, k].to(r.device)
    g[:, 1, 1] = selves.to(r.device)
    return update(r, g)[:, 1, 1].to(torch.int8)
