"""Cell-update cases for the AVR runs: neighbourhoods from real growth and random ones, and
the PyTorch integer model's answers for them."""
import numpy as np
import torch

from rule import intmodel, modelfile, spec

ORDER = intmodel.NEIGHBOUR_ORDER


def neighbourhoods_from_growth(rule, n_per_step=60, steps=(5, 20, 50, 100, 200, 400)):
    """(self, nbr) of alive cells in real growth of `rule` under the shared schedule."""
    W, H = modelfile.grid_size(rule)
    r = intmodel.IntRule(rule)
    s = intmodel.seed_state(1, H, W, cell=rule.seed_cell)
    rng = np.random.default_rng(0)
    selves, nbrs = [], []
    for t in range(max(steps) + 1):
        if t in steps:
            g = np.pad(s[0].numpy(), ((1, 1), (1, 1), (0, 0)))
            alive = np.argwhere(g[1:-1, 1:-1, spec.ALPHA] > spec.ALIVE_THRESHOLD)
            for y, x in alive[rng.permutation(len(alive))[:n_per_step]]:
                selves.append(g[y + 1, x + 1])
                nbrs.append(np.stack([g[y + dy, x + dx] for dy, dx in ORDER]))
        s = intmodel.step(r, s, torch.tensor([0]), t, 32768)
    return np.array(selves, np.int8), np.array(nbrs, np.int8)


def random_neighbourhoods(n, seed):
    rng = np.random.default_rng(seed)
    selves = rng.integers(-128, 128, (n, 16)).astype(np.int8)
    nbrs = rng.integers(-128, 128, (n, 8, 16)).astype(np.int8)
    nbrs[: n // 10, :, spec.ALPHA] = rng.integers(-128, 7, (n // 10, 8))   # some dead ones
    selves[: n // 10, spec.ALPHA] = rng.integers(-128, 7, n // 10)
    return selves, nbrs


def int_model(rule, selves: np.ndarray, nbrs: np.ndarray) -> np.ndarray:
    return intmodel.fire_cells(intmodel.IntRule(rule), torch.from_numpy(selves), torch.from_numpy(nbrs)).numpy()


def replay(rule, records) -> np.ndarray:
    """The integer model's outputs for traced updates (avrsim.build.read_trace records)."""
    inputs = np.ascontiguousarray(records["inputs"])
    return int_model(rule, np.ascontiguousarray(inputs[:, 0]), np.ascontiguousarray(inputs[:, 1:]))
