"""Grid-faithful neighbourhoods: what a cell reads of its neighbours on a real grid.

On the boards a neighbour's state arrives by a frame (60 ms on the wire), a diagonal by a neighbour's
relay (the east or west one's, and with link protocol 4 also the north or south one's), and a slot
not heard for 1 s reads as zeros (docs/link-protocol.md). So
when a cell fires, each of its 8 slots holds its neighbour's latest state, the one before, an older
one, or nothing, with shares the grid twin measures (rule/conditions.py). Here each cell keeps its
last three states (in its own updates) and each firing draws, per slot, which one it reads; a
diagonal is lost when the boards that relay it are dead. The rule itself is unchanged: only its
inputs are late.
"""
import torch
import torch.nn.functional as F

from rule import conditions
from rule.intmodel import NEIGHBOUR_ORDER

DIAGONAL_SLOTS = (0, 2, 5, 7)          # NW, NE, SW, SE in NEIGHBOUR_ORDER
DIAGONAL_AT = {0: (-1, -1), 2: (-1, 1), 5: (1, -1), 7: (1, 1)}   # slot -> (dy, dx) of its board
EMPTY = len(conditions.AGES) - 1        # the age index that reads zeros
FRESH = torch.tensor([1.0, 0, 0, 0], dtype=torch.float64)   # a slot's shares on a clean grid: always the latest


def slot_shares(condition: dict) -> torch.Tensor:
    """[8, 4] shares of (latest, one behind, older, empty) per slot, from a measured condition."""
    return torch.tensor([condition["diagonal" if k in DIAGONAL_SLOTS else "orthogonal"] for k in range(8)],
                        dtype=torch.float64)


def lost_relays(living: torch.Tensor, relays: str) -> torch.Tensor:
    """[B, 8, H, W] bool: the diagonal slots whose relaying boards are dead: the east or west
    neighbour (relays "east-west"), or both it and the north or south one ("both"; rule/conditions.py).
    living: [B, 1, H, W] (0 or 1); outside the grid counts as living (its diagonals are empty anyway)."""
    if relays not in conditions.RELAYS:
        raise ValueError(f"relays: expected one of {conditions.RELAYS}, got {relays!r}")
    dead = F.pad(living[:, 0] == 0, (1, 1, 1, 1))             # [B, H + 2, W + 2]
    H, W = living.shape[-2:]
    out = torch.zeros(living.shape[0], 8, H, W, dtype=torch.bool, device=living.device)
    for slot, (dy, dx) in DIAGONAL_AT.items():
        out[:, slot] = dead[:, 1:1 + H, 1 + dx:1 + dx + W]                # the east or west neighbour
        if relays == conditions.BOTH:
            out[:, slot] &= dead[:, 1 + dy:1 + dy + H, 1:1 + W]           # ... and the north or south one
    return out


class StaleNeighbours:
    """The 8 neighbour slots of every cell as a grid would fill them, for one batch of rollouts.

    shares: [B, 8, 4] per sample and slot (slot_shares of the sample's condition); living:
    [B, 1, H, W] or None; gen: the CPU generator the draws come from (the same on every device);
    relays: which neighbours relay the diagonals (the conditions file's, rule/conditions.py), needed
    with `living`.
    """

    def __init__(self, S: torch.Tensor, shares: torch.Tensor, gen: torch.Generator, living=None,
                 relays: str | None = None):
        self.before = [S, S]   # each cell's state before its last update, and before the one before
        self.bounds = shares.cumsum(-1)[..., :EMPTY].float().to(S.device)[:, :, None, None]   # [B, 8, 1, 1, 3]
        self.lost = lost_relays(living, relays) if living is not None else None
        self.gen = gen
        # each slot's neighbour (y * W + x), and the slots that are always empty: off the grid, or
        # a diagonal whose relaying boards are dead
        H, W = S.shape[-2:]
        y, x = torch.arange(H, device=S.device).view(H, 1), torch.arange(W, device=S.device).view(1, W)
        ny = torch.stack([(y + row - 1).expand(H, W) for row, _ in NEIGHBOUR_ORDER])     # [8, H, W]
        nx = torch.stack([(x + col - 1).expand(H, W) for _, col in NEIGHBOUR_ORDER])
        self.neighbour = ny.clamp(0, H - 1) * W + nx.clamp(0, W - 1)
        self.empty = (ny < 0) | (ny >= H) | (nx < 0) | (nx >= W)
        if self.lost is not None:
            self.empty = self.empty | self.lost

    def slots(self, S: torch.Tensor) -> "Slots":
        """This step's draw of every cell's 8 slots (NEIGHBOUR_ORDER); S: the grid's states now."""
        B, C, H, W = S.shape
        u = torch.rand(B, 8, H, W, generator=self.gen).to(S.device)
        ages = (u[..., None] >= self.bounds).sum(-1)            # [B, 8, H, W]: 0 latest .. 3 empty
        # every cell's last three states, one row of C channels per cell, and one row of zeros:
        # a slot reads one row (gathering rows copies: exact on every device)
        states = torch.cat([s.permute(0, 2, 3, 1).reshape(B, H * W, C) for s in (S, *self.before)]
                           + [S.new_zeros(B, 1, C)], 1)                          # [B, 3 * H * W + 1, C]
        index = torch.where(self.empty | (ages == EMPTY), EMPTY * H * W, ages * (H * W) + self.neighbour)
        return Slots(states, index.view(B, 8, H * W))

    def views(self, S: torch.Tensor) -> torch.Tensor:
        """[B, C, 8, H, W]: what every cell's slots hold now (each call a new draw)."""
        B, C, H, W = S.shape
        return self.slots(S).at(torch.arange(B * H * W, device=S.device)).view(8, B, H, W, C).permute(1, 4, 0, 2, 3)

    def advance(self, S: torch.Tensor, fire: torch.Tensor):
        """After a step: the cells that fired (fire [B, H, W]) had state S before it."""
        f = fire[:, None]
        self.before = [torch.where(f, S, self.before[0]), torch.where(f, self.before[0], self.before[1])]


class Slots:
    """One step's slots: states [B, 3 * H * W + 1, C] (each cell's latest state, the one before, an
    older one, then a row of zeros), index [B, 8, H * W] (of cell y * W + x, slot k: the row it reads)."""

    def __init__(self, states: torch.Tensor, index: torch.Tensor):
        self.states, self.index = states, index

    def channel(self, c: int) -> torch.Tensor:
        """[B, 8, H * W]: channel c of every cell's slots (alpha, for the neighbours' largest)."""
        return torch.gather(self.states[..., c], 1, self.index.flatten(1)).view(self.index.shape)

    def at(self, cells: torch.Tensor) -> torch.Tensor:
        """[8, N, C]: every slot of the given cells (flat: sample * H * W + y * W + x), only those:
        the rule runs on a fifth of the grid, so gathering them all cost a third of an iteration."""
        B, P, C = self.states.shape
        HW = self.index.shape[-1]
        b = cells // HW
        rows = self.index[b, :, cells % HW] + (b * P)[:, None]     # [N, 8]
        return self.states.view(B * P, C)[rows.T.flatten()].view(8, len(cells), C)
