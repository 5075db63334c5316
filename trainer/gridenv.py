"""Grid-faithful neighbourhoods: what a cell reads of its neighbours on a real grid.

On the boards a neighbour's state arrives by a frame (60 ms on the wire), a diagonal by the east
or west neighbour's relay, and a slot not heard for 1 s reads as zeros (docs/link-protocol.md). So
when a cell fires, each of its 8 slots holds its neighbour's latest state, the one before, an older
one, or nothing, with shares the grid twin measures (rule/conditions.py). Here each cell keeps its
last three states (in its own updates) and each firing draws, per slot, which one it reads; a dead
board also takes the diagonals it relays. The rule itself is unchanged: only its inputs are late.
"""
import torch
import torch.nn.functional as F

from rule import conditions
from rule.intmodel import NEIGHBOUR_ORDER

DIAGONAL_SLOTS = (0, 2, 5, 7)          # NW, NE, SW, SE in NEIGHBOUR_ORDER
RELAY_SIDE = {0: -1, 5: -1, 2: 1, 7: 1}  # slot -> dx of the board that relays it (west, east)
EMPTY = len(conditions.AGES) - 1        # the age index that reads zeros
FRESH = torch.tensor([1.0, 0, 0, 0], dtype=torch.float64)   # a slot's shares on a clean grid: always the latest


def slot_shares(condition: dict) -> torch.Tensor:
    """[8, 4] shares of (latest, one behind, older, empty) per slot, from a measured condition."""
    return torch.tensor([condition["diagonal" if k in DIAGONAL_SLOTS else "orthogonal"] for k in range(8)],
                        dtype=torch.float64)


def lost_relays(living: torch.Tensor) -> torch.Tensor:
    """[B, 8, H, W] bool: the diagonal slots a dead east or west neighbour would have relayed.
    living: [B, 1, H, W] (0 or 1); outside the grid counts as living (its diagonals are empty anyway)."""
    dead = F.pad(living[:, 0] == 0, (1, 1))                  # [B, H, W + 2]
    W = living.shape[-1]
    out = torch.zeros(living.shape[0], 8, *living.shape[-2:], dtype=torch.bool, device=living.device)
    for slot, dx in RELAY_SIDE.items():
        out[:, slot] = dead[:, :, 1 + dx:1 + dx + W]
    return out


class StaleNeighbours:
    """The 8 neighbour slots of every cell as a grid would fill them, for one batch of rollouts.

    shares: [B, 8, 4] per sample and slot (slot_shares of the sample's condition); living:
    [B, 1, H, W] or None; gen: the CPU generator the draws come from (the same on every device).
    """

    def __init__(self, S: torch.Tensor, shares: torch.Tensor, gen: torch.Generator, living=None):
        self.before = [S, S]   # each cell's state before its last update, and before the one before
        self.bounds = shares.cumsum(-1)[..., :EMPTY].float().to(S.device)[:, :, None, None]   # [B, 8, 1, 1, 3]
        self.lost = lost_relays(living) if living is not None else None
        self.gen = gen

    def views(self, S: torch.Tensor) -> torch.Tensor:
        """[B, C, 8, H, W]: what each cell's slots (NEIGHBOUR_ORDER) hold now."""
        B, C, H, W = S.shape
        u = torch.rand(B, 8, H, W, generator=self.gen).to(S.device)
        ages = (u[..., None] >= self.bounds).sum(-1)            # [B, 8, H, W]: 0 latest .. 3 empty
        if self.lost is not None:
            ages = torch.where(self.lost, EMPTY, ages)
        # one gather from every cell's last three states and a zero state, each padded with zeros
        # (a gather copies: exact on every device; 8 slices of a padded tensor trained 1.6x slower)
        states = F.pad(torch.stack([S, *self.before, torch.zeros_like(S)], 2), (1, 1, 1, 1))   # [B, C, 4, H+2, W+2]
        plane = (H + 2) * (W + 2)
        rows, cols = torch.arange(H, device=S.device).view(H, 1), torch.arange(W, device=S.device).view(1, W)
        where = torch.stack([(rows + row) * (W + 2) + cols + col for row, col in NEIGHBOUR_ORDER])   # [8, H, W]
        index = (ages * plane + where).view(B, 1, 8 * H * W).expand(B, C, -1)
        return torch.gather(states.view(B, C, -1), 2, index).view(B, C, 8, H, W)

    def advance(self, S: torch.Tensor, fire: torch.Tensor):
        """After a step: the cells that fired (fire [B, H, W]) had state S before it."""
        f = fire[:, None]
        self.before = [torch.where(f, S, self.before[0]), torch.where(f, self.before[0], self.before[1])]
