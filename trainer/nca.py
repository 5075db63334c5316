"""The trainable cell rule: float forward, and the quantization-aware (QAT) forward whose values
are exactly the integer rule's (docs/cell-rule.md), with straight-through gradients.

State tensors are [batch, 16, height, width] in state units (channel c: 1 unit = 2^-f_c, the
rule's state_frac; RGBA 1/64), float32.
In QAT mode every value the forward produces is an integer below 2^24, so float32 holds it and
every sum of it exactly; TF32 is switched off so CUDA keeps that true.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

from rule import schedule, spec
from rule.modelfile import CellRule
from trainer.palette import nearest, palettize


def exact_float32():
    """No TF32 or reduced-precision float32 matmuls anywhere (CPU and CUDA)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


exact_float32()

_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
_IDENTITY = torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
# depthwise kernels, per channel [identity, Sobel-x, Sobel-y]: output channel 3c+k (interleaved)
PERCEPTION_KERNELS = torch.stack([_IDENTITY, _SOBEL_X, _SOBEL_X.T]).repeat(spec.CHANNELS, 1, 1)[:, None]
# the Sobel kernels' weights of the 8 neighbour slots (NW, N, NE, W, E, SW, S, SE)
SLOT_SOBEL = torch.tensor([[-1.0, 0, 1, -2, 2, -1, 0, 1], [-1.0, -2, -1, 0, 0, 1, 2, 1]])
# divide Sobel sums by 8 to get back to state units; the identity stays as it is
PERCEPTION_DIVISOR = torch.tensor([1.0, 2.0 ** spec.SOBEL_SHIFT, 2.0 ** spec.SOBEL_SHIFT]).repeat(spec.CHANNELS)


def weight_exponent(w: torch.Tensor) -> int:
    """Largest power-of-two scale 2^e with |w| * 2^e <= 127, clamped to the allowed range."""
    m = float(w.detach().abs().max())
    if m == 0.0:
        return spec.EXP_MAX
    return int(min(spec.EXP_MAX, max(spec.EXP_MIN, math.floor(math.log2(spec.WEIGHT_MAX / m)))))


def quantize_weight(w, e, palette: int = 0, values=None):
    """int8 values of w * 2^e (a float tensor of integers); with `palette`, at most that many
    distinct values (trainer/palette.py); with `values` (sorted int8 values), the nearest of them."""
    if values is not None:
        scaled = w.detach().to("cpu", torch.float64).numpy() * 2.0 ** e
        return torch.from_numpy(values[nearest(scaled, values)]).to(w.device, w.dtype)
    if palette:
        ints = palettize(w.detach().to("cpu", torch.float64).numpy() * 2.0 ** e, palette)
        return torch.from_numpy(ints).to(w.device, w.dtype)
    return torch.clamp(torch.round(w * 2.0 ** e), -spec.WEIGHT_MAX, spec.WEIGHT_MAX)


def quantize_bias(b, acc_frac_bits):
    return torch.clamp(torch.round(b * 2.0 ** acc_frac_bits), spec.BIAS_MIN, spec.BIAS_MAX)


def ste(quantized, real):
    """Forward value: exactly `quantized`. Gradient: that of `real`."""
    return quantized.detach() + (real - real.detach())


def neighbour_max(a: torch.Tensor) -> torch.Tensor:
    """Max over the 8 neighbours of [B, 1, H, W] (cells outside the grid read as 0)."""
    H, W = a.shape[-2:]
    windows = F.unfold(a, 3, padding=1)  # [B, 9, H*W], index 4 is the cell itself
    return torch.cat([windows[:, :4], windows[:, 5:]], 1).amax(1).view(-1, 1, H, W)


def perceive(S: torch.Tensor):
    """Perception sums [B, 48, H, W] (3c + k: identity, Sobel-x, Sobel-y, not yet divided) and the
    neighbours' largest alpha [B, 1, H, W], from the grid's current states."""
    raw = F.conv2d(S, PERCEPTION_KERNELS.to(S.device), padding=1, groups=spec.CHANNELS)
    return raw, neighbour_max(S[:, spec.ALPHA:spec.ALPHA + 1].detach())


def slot_perception(S: torch.Tensor, cells: torch.Tensor, slots) -> torch.Tensor:
    """Perception sums [N, 48] (as perceive's) of the given cells (flat: sample * H * W + y * W + x)
    from what their slots hold on a grid (a gridenv.Slots)."""
    B, C, H, W = S.shape
    N = len(cells)
    own = S.permute(0, 2, 3, 1).reshape(B * H * W, C)[cells]                # [N, C]
    sobel = (SLOT_SOBEL.to(S.device) @ slots.at(cells).view(8, N * C)).view(2, N, C)
    return torch.cat([own[None], sobel]).permute(1, 2, 0).reshape(N, 3 * C)


class NCA(torch.nn.Module):
    def __init__(self, hidden: int, seed: int | None = None, palette: int = 0, state_frac=spec.DEFAULT_STATE_FRAC):
        super().__init__()
        self.palette = palette  # 0: any int8 weights; n: at most n distinct values per layer
        self.fixed = None       # (e1, e2, values1, values2) when the integers are held (fix_integers)
        self.state_frac = tuple(state_frac)
        f = torch.tensor(self.state_frac, dtype=torch.float32)
        # channel c's unit (2^f_c per 1.0), and per perception input 3c+k its channel's
        self.register_buffer("unit", 2.0 ** f, persistent=False)
        self.register_buffer("input_unit", (2.0 ** f).repeat_interleave(3), persistent=False)
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        bound = 1.0 / math.sqrt(spec.PERCEPTION)
        self.w1 = torch.nn.Parameter((torch.rand(hidden, spec.PERCEPTION, generator=g) * 2 - 1) * bound)
        self.b1 = torch.nn.Parameter(torch.zeros(hidden))
        self.w2 = torch.nn.Parameter(torch.zeros(spec.CHANNELS, hidden))  # article: do-nothing start
        self.b2 = torch.nn.Parameter(torch.zeros(spec.CHANNELS))

    def folded_w1(self):
        """Layer 1's weights on inputs in 1/64 units: each channel's 2^(6 - f_c) folded in, so one
        accumulator scale serves every channel (docs/cell-rule.md, "Scales and shifts")."""
        return self.w1 * (2.0 ** spec.STATE_FRAC_BITS / self.input_unit)

    def exponents(self):
        if self.fixed:
            return self.fixed[:2]
        return weight_exponent(self.folded_w1()), weight_exponent(self.w2)

    def fix_integers(self, rule: CellRule):
        """Start from `rule`'s integers and keep its scales and allowed values: weights then move
        between those values (a calibrated palette is never re-clustered, as Deep Compression's
        fine-tuning of shared weights). For fine-tuning a rule quantized after training (ptq)."""
        def allowed(w):
            return np.unique(w).astype(np.float64) if self.palette else np.arange(-spec.WEIGHT_MAX, spec.WEIGHT_MAX + 1.0)
        self.fixed = (rule.w1_exp, rule.w2_exp, allowed(rule.w1), allowed(rule.w2))
        ints = {n: torch.from_numpy(getattr(rule, n).astype(np.float32)).to(self.w1.device) for n in ("w1", "b1", "w2", "b2")}
        with torch.no_grad():
            self.w1.copy_(ints["w1"] * 2.0 ** -rule.w1_exp / (2.0 ** spec.STATE_FRAC_BITS / self.input_unit))
            self.b1.copy_(ints["b1"] * 2.0 ** -(spec.STATE_FRAC_BITS + rule.w1_exp))
            self.w2.copy_(ints["w2"] * 2.0 ** -rule.w2_exp)
            self.b2.copy_(ints["b2"] * 2.0 ** -(spec.HIDDEN_FRAC_BITS + rule.w2_exp))

    def weight_ints(self, w1, w2):
        """The integer weights of scaled floats w1 * 2^e1, w2 * 2^e2 (exponents as exponents())."""
        e1, e2 = self.exponents()
        v1, v2 = self.fixed[2:] if self.fixed else (None, None)
        return quantize_weight(w1, e1, self.palette, v1), quantize_weight(w2, e2, self.palette, v2)

    def shifts2(self, e2: int) -> torch.Tensor:
        """Layer 2's rounding shift per output channel, as floats [16]."""
        return torch.tensor([float(spec.layer2_shift(e2, f)) for f in self.state_frac], device=self.unit.device)

    def qat_weights(self):
        """(w1, b1, w2, b2, k1, k2) of the integer rule, with straight-through gradients (k2 per
        output channel). A rollout computes them once (the palette's k-means runs on the CPU) and
        passes them to every step."""
        e1, e2 = self.exponents()
        f1, f2 = spec.STATE_FRAC_BITS + e1, spec.HIDDEN_FRAC_BITS + e2
        w1 = self.folded_w1()
        q1, q2 = self.weight_ints(w1, self.w2)
        return (ste(q1, w1 * 2.0 ** e1),
                ste(quantize_bias(self.b1, f1), self.b1 * 2.0 ** f1),
                ste(q2, self.w2 * 2.0 ** e2),
                ste(quantize_bias(self.b2, f2), self.b2 * 2.0 ** f2),
                spec.layer1_shift(e1), self.shifts2(e2))

    def step(self, S, fire, quantize: bool, weights=None, slots=None):
        """One step: cells where `fire` [B, H, W] is true apply the rule; the others keep state.
        `weights`: qat_weights() (or rule_weights()), computed once per rollout (QAT only).
        `slots`: what the cells' slots hold on a grid (gridenv.Slots); None: the current states."""
        dev = S.device
        B, C, H, W = S.shape
        alpha = S[:, spec.ALPHA:spec.ALPHA + 1].detach()
        if slots is None:
            raw, nb = perceive(S)
        else:
            nb = slots.channel(spec.ALPHA).detach().amax(1).view(B, 1, H, W)
        threshold = spec.ALIVE_THRESHOLD if quantize else 0.1 * 2 ** spec.STATE_FRAC_BITS
        pre = torch.maximum(alpha, nb) > threshold

        # the rule runs only where its result is kept (fired and alive before: a fifth of the
        # grown lizard's grid), which made training 2x faster; the other cells' update is 0
        active = (fire & pre[:, 0]).flatten().nonzero().squeeze(1)
        if slots is None:
            p = raw.permute(0, 2, 3, 1).reshape(B * H * W, -1)[active]
        else:
            p = slot_perception(S, active, slots)
        p = p / PERCEPTION_DIVISOR.to(dev)                                                    # [N, 48]
        if quantize:
            w1, b1, w2, b2, k1, k2 = weights if weights is not None else self.qat_weights()
            p = ste(torch.clamp(torch.floor(p + 0.5), -128, 127), p)
            a1 = (p @ w1.T + b1) / 2.0 ** k1
            h = ste(torch.clamp(torch.floor(a1 + 0.5), 0, spec.HIDDEN_MAX), torch.clamp(a1, 0, spec.HIDDEN_MAX))
            a2 = (h @ w2.T + b2) / 2.0 ** k2
            d = ste(torch.floor(a2 + 0.5), a2)
        else:
            h = torch.relu((p / self.input_unit) @ self.w1.T + self.b1)
            d = (h @ self.w2.T + self.b2) * self.unit
        d = torch.zeros(B * H * W, C, device=dev, dtype=d.dtype).index_put((active,), d)
        new = S + d.view(B, H, W, C).permute(0, 3, 1, 2)
        if quantize:
            new = torch.clamp(new, -128, 127)

        post = torch.maximum(new[:, spec.ALPHA:spec.ALPHA + 1].detach(), nb) > threshold
        new = torch.where(pre & post, new, torch.zeros((), device=dev))
        return torch.where(fire[:, None], new, S)

    def export(self, meta=None, target=None) -> CellRule:
        """The integer rule this module's QAT forward computes (same rounding functions)."""
        e1, e2 = self.exponents()
        with torch.no_grad():
            q1, q2 = self.weight_ints(self.folded_w1(), self.w2)
            ints = [q1, quantize_bias(self.b1, spec.STATE_FRAC_BITS + e1), q2, quantize_bias(self.b2, spec.HIDDEN_FRAC_BITS + e2)]
        dtypes = [np.int8, np.int16, np.int8, np.int16]
        w1, b1, w2, b2 = [t.cpu().numpy().astype(dt) for t, dt in zip(ints, dtypes)]
        floats = {f"float_{n}": getattr(self, n).detach().cpu().numpy().astype(np.float32)
                  for n in ("w1", "b1", "w2", "b2")}
        meta = dict(meta or {})
        if self.palette:
            meta["palette"] = self.palette
        return CellRule(w1=w1, b1=b1, w2=w2, b2=b2, w1_exp=e1, w2_exp=e2, meta=meta,
                        float_params=floats, target=target, state_frac=self.state_frac)

    @staticmethod
    def rule_weights(rule: CellRule, device="cpu"):
        """A model file's integer rule as the `weights` of a QAT step (exactly the integer model)."""
        def t(a):
            return torch.from_numpy(a.astype(np.float32)).to(device)
        return t(rule.w1), t(rule.b1), t(rule.w2), t(rule.b2), rule.shift1, t(np.array(rule.shift2))

    @classmethod
    def random(cls, hidden: int, seed: int, scale: float = 1.0, palette: int = 0,
               state_frac=spec.DEFAULT_STATE_FRAC) -> "NCA":
        """An untrained rule that does something (the article's do-nothing start would not): random
        second layer and biases; `scale` multiplies every weight (large values drive saturation)."""
        m = cls(hidden, seed=seed, palette=palette, state_frac=state_frac)
        g = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            m.w1.mul_(scale)
            m.w2.copy_(torch.randn(m.w2.shape, generator=g) * scale / hidden ** 0.5)
            m.b1.copy_(torch.randn(m.b1.shape, generator=g) * 0.1 * scale)
            m.b2.copy_(torch.randn(m.b2.shape, generator=g) * 0.1 * scale)
        return m

    @classmethod
    def from_rule(cls, rule: CellRule) -> "NCA":
        """The float rule stored in a model file (falls back to the dequantized integer rule)."""
        m = cls(hidden=rule.hidden, palette=rule.meta.get("palette", 0), state_frac=rule.state_frac)
        with torch.no_grad():
            if rule.float_params is not None:
                for n in ("w1", "b1", "w2", "b2"):
                    getattr(m, n).copy_(torch.from_numpy(rule.float_params[f"float_{n}"]))
            else:
                m.w1.copy_(torch.from_numpy(rule.w1.astype(np.float32)) * 2.0 ** -rule.w1_exp
                           * m.input_unit / 2.0 ** spec.STATE_FRAC_BITS)
                m.b1.copy_(torch.from_numpy(rule.b1.astype(np.float32)) * 2.0 ** -(spec.STATE_FRAC_BITS + rule.w1_exp))
                m.w2.copy_(torch.from_numpy(rule.w2.astype(np.float32)) * 2.0 ** -rule.w2_exp)
                m.b2.copy_(torch.from_numpy(rule.b2.astype(np.float32)) * 2.0 ** -(spec.HIDDEN_FRAC_BITS + rule.w2_exp))
        return m


def rollout(model: NCA, S, seeds, start: int, stop: int, threshold: int, quantize: bool, weights=None,
            grid=None, living=None):
    """Steps start..stop-1 of the shared schedule from S [B, 16, H, W]. grid: a
    gridenv.StaleNeighbours (the slots a grid would fill), None for fresh neighbours; living:
    [B, 1, H, W], 0 where a board is dead (its state held at 0)."""
    H, W = S.shape[-2:]
    for t in range(start, stop):
        fire = schedule.fire_mask(seeds, t, H, W, threshold)
        if living is not None:
            S = S * living
        new = model.step(S, fire, quantize, weights, grid.slots(S) if grid is not None else None)
        if grid is not None:
            grid.advance(S, fire)
        S = new
    return S * living if living is not None else S
