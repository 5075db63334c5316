"""Post-training quantization of a float rule trained elsewhere (python -m trainer import).

Two things are read from the float rule's own rollouts from the seed (growth, persistence and
regrowth of an erased half, as the eval runs them):
- each hidden channel's state scale f_c (docs/cell-rule.md, "State"): the largest f_c whose range
  holds CALIBRATION_QUANTILE of that channel's values in living cells;
- the inputs each layer sees, for error-compensating rounding (GPTQ, Frantar et al. 2023): a
  layer's weights are rounded one input column at a time, to the nearest allowed integer (any
  int8, or the layer's 16-value palette), and the rounding error of each column is pushed onto the
  columns not yet rounded, weighted by how the inputs co-vary, so the layer's *outputs* on real
  inputs move as little as possible. Plain rounding minimises each weight's error instead, which
  for 4-bit palettes costs far more (measured in docs/import.md).
The integers are still ordinary int8 weights of the integer rule: nothing in the cell changes.
"""
import math

import numpy as np
import torch

from rule import intmodel, schedule, spec
from trainer import palette
from trainer.nca import NCA, PERCEPTION_DIVISOR, perceive

CALIBRATION_QUANTILE = 0.9999   # of |value| per channel over living cells: the range a channel gets
CALIBRATION_EVERY = 10          # steps between the states a calibration keeps
CALIBRATION_ROWS = 200_000      # inputs kept per layer (a random subset when there are more)
DAMPING = 0.01                  # of the mean input power, added to the covariance's diagonal


def float_model(floats: dict, state_frac=spec.DEFAULT_STATE_FRAC) -> NCA:
    model = NCA(floats["w1"].shape[0], state_frac=state_frac)
    with torch.no_grad():
        for k, v in floats.items():
            getattr(model, k).copy_(torch.from_numpy(v))
    return model


def calibrate(floats: dict, width: int, height: int, runs: int = 4, device="cpu") -> dict:
    """{"state_frac": 16 ints, "perception": float64 [n, 48] in 1/64 units, "hidden": float64 [n, H]
    real} from the float rule's rollouts (no rounding, no saturation) of living cells."""
    from trainer.evaluate import GROWTH_STEPS, PERSIST_STEPS, REGEN_STEPS
    model = float_model(floats).to(device)
    threshold = schedule.fire_threshold(0.5)
    seeds = torch.arange(runs, dtype=torch.int64, device=device)
    S = intmodel.seed_state(runs, height, width, device).permute(0, 3, 1, 2).float()
    states, inputs = [], []
    with torch.no_grad():
        for t in range(PERSIST_STEPS + REGEN_STEPS):
            if t == GROWTH_STEPS:
                grown = S.clone()
            if t == PERSIST_STEPS:   # then regrowth, from the grown state with its left half erased
                S = grown
                S[..., : width // 2] = 0
            S = model.step(S, schedule.fire_mask(seeds, t, height, width, threshold), quantize=False)
            if t % CALIBRATION_EVERY == 0:
                living = S[:, spec.ALPHA] > 0   # cells with a state (dead ones hold zeros)
                raw, _ = perceive(S)
                p = (raw / PERCEPTION_DIVISOR.to(device).view(1, -1, 1, 1)).permute(0, 2, 3, 1)
                states.append(S.permute(0, 2, 3, 1)[living].cpu())
                inputs.append(p[living].cpu())
    frac = state_frac_for(torch.cat(states).double().numpy() / 2.0 ** spec.STATE_FRAC_BITS)
    p = torch.cat(inputs).double().numpy()
    if len(p) > CALIBRATION_ROWS:
        p = p[np.random.default_rng(0).choice(len(p), CALIBRATION_ROWS, replace=False)]
    hidden = np.maximum(p / 2.0 ** spec.STATE_FRAC_BITS @ floats["w1"].T.astype(np.float64) + floats["b1"], 0.0)
    return {"state_frac": frac, "perception": p, "hidden": hidden}


def state_frac_for(values: np.ndarray) -> tuple:
    """Real states [n, 16] -> each channel's f_c: the largest in STATE_FRAC_MIN..6 whose range
    (127 / 2^f at the top) holds CALIBRATION_QUANTILE of |values| (RGBA: always 6)."""
    frac = []
    for c in range(spec.CHANNELS):
        m = float(np.quantile(np.abs(values[:, c]), CALIBRATION_QUANTILE)) if len(values) else 0.0
        f = math.floor(math.log2(127 / m)) if m > 0 else spec.STATE_FRAC_BITS   # m * 2^f <= 127
        frac.append(spec.STATE_FRAC_BITS if c <= spec.ALPHA else min(spec.STATE_FRAC_BITS, max(spec.STATE_FRAC_MIN, f)))
    return tuple(frac)


def nearest(x: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The nearest of the sorted, distinct `values` for each x (ties: the lower)."""
    return values[palette.nearest(x, values)]


def round_compensated(w: np.ndarray, inputs: np.ndarray, values: np.ndarray) -> np.ndarray:
    """w [out, in] (scaled floats) -> integers from `values`, chosen column by column so that
    w @ x changes least over the rows x of `inputs` [n, in] (GPTQ's update, inverse-Cholesky form)."""
    w = np.array(w, np.float64)
    cov = inputs.T @ inputs / max(1, len(inputs))
    cov += DAMPING * max(float(np.mean(np.diag(cov))), 1e-12) * np.eye(len(cov))
    upper = np.linalg.cholesky(np.linalg.inv(cov)).T
    out = np.zeros_like(w)
    for i in range(w.shape[1]):
        out[:, i] = nearest(w[:, i], values)
        error = (w[:, i] - out[:, i]) / upper[i, i]
        w[:, i + 1:] -= np.outer(error, upper[i, i + 1:])
    return out
