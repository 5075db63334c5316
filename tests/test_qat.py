"""The quantization-aware forward computes exactly the integer rule (CPU == CUDA: test_cuda.py)."""
import dataclasses

import numpy as np
import pytest
import torch

from conftest import extreme_rule, random_rule, random_state_frac, random_states, scaled
from rule import intmodel, schedule, spec
from trainer.nca import NCA


def run_both(rule, states, seeds, steps, device="cpu", model=None):
    """Yield (int model state, QAT state as int8) after every step (model: NCA.from_rule(rule))."""
    r = intmodel.IntRule(rule, device)
    model = (model or NCA.from_rule(rule)).to(device)
    s = states.to(device)
    S = s.permute(0, 3, 1, 2).float()
    B, H, W, _ = s.shape
    for t in range(steps):
        s = intmodel.step(r, s, seeds.to(device), t, 32768)
        fire = schedule.fire_mask(seeds.to(device), t, H, W, 32768)
        S = model.step(S, fire, quantize=True)
        yield t, s, S


def assert_qat_equals_int(rule, states, seeds, steps, model=None):
    for t, s, S in run_both(rule, states, seeds, steps, model=model):
        assert torch.equal(S, S.round()), f"step {t}: QAT state not integral"
        assert torch.equal(S.permute(0, 2, 3, 1).to(torch.int8), s), f"step {t}: differs"


@pytest.mark.parametrize("shape", [(9, 9), (6, 11), (1, 8), (7, 1)])
def test_qat_equals_integer_model_random_rules(shape):
    for rule in (random_rule(1), random_rule(2, scale=3.0), NCA.random(24, 4, 2.0, palette=16).export(),
                 random_rule(3, scale=3.0, state_frac=random_state_frac(3)),
                 NCA.random(24, 5, 2.0, palette=16, state_frac=random_state_frac(5)).export()):
        # from_rule keeps the float weights, whose QAT quantization must give back the file's ints
        states = random_states(5, 3, *shape)
        assert_qat_equals_int(rule, states, torch.tensor([0, 1, 99]), 40)


def test_qat_equals_integer_model_extreme_rule():
    # no float twin: the model is built from the dequantized integers, which quantize back exactly
    for rule in (extreme_rule(7), scaled(extreme_rule(8), 8)):
        assert_qat_equals_int(rule, random_states(6, 2, 8, 8), torch.tensor([5, 6]), 30)


def test_qat_equals_integer_model_shipped_growth(shipped_rule):
    H, W = shipped_rule.target.shape[:2]
    assert_qat_equals_int(shipped_rule, intmodel.seed_state(2, H, W), torch.tensor([0, 1]), 120)


def test_export_round_trips_through_qat(shipped_rule):
    e = NCA.from_rule(shipped_rule).export()
    for name in ("w1", "b1", "w2", "b2"):
        assert (getattr(e, name) == getattr(shipped_rule, name)).all()
    assert (e.w1_exp, e.w2_exp) == (shipped_rule.w1_exp, shipped_rule.w2_exp)


def test_qat_has_straight_through_gradients():
    rule = random_rule(3)
    model = NCA.from_rule(rule)
    S = random_states(1, 2, 8, 8).permute(0, 3, 1, 2).float()
    S[:, spec.ALPHA] = 64
    fire = torch.ones(2, 8, 8, dtype=torch.bool)
    for _ in range(3):
        S = model.step(S, fire, quantize=True)
    S[:, :4].square().mean().backward()
    for name in ("w1", "b1", "w2", "b2"):
        g = getattr(model, name).grad
        assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0, name


def test_fixed_integers_start_at_the_rule_and_keep_its_scales_and_values():
    # an imported palette rule: calibrated values whose extremes are far below 127, so the float
    # weights' own exponents would differ; fix_integers holds the rule's
    base = NCA.random(24, 6, 2.0, palette=16, state_frac=random_state_frac(6)).export()
    rule = dataclasses.replace(base, w1=(base.w1 // 4).astype(np.int8), w2=(base.w2 // 3).astype(np.int8),
                               float_params=None)
    model = NCA(rule.hidden, palette=16, state_frac=rule.state_frac)
    model.fix_integers(rule)
    start = model.export()
    assert all(np.array_equal(getattr(start, n), getattr(rule, n)) for n in ("w1", "b1", "w2", "b2"))
    assert (start.w1_exp, start.w2_exp) == (rule.w1_exp, rule.w2_exp) != NCA.from_rule(rule).exponents()
    assert_qat_equals_int(rule, random_states(7, 2, 8, 8), torch.tensor([3, 4]), 20, model)
    with torch.no_grad():                                      # what training does: weights move
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(0)) * p.abs().max() * 0.3)
    moved = model.export()
    assert (moved.w1_exp, moved.w2_exp) == (rule.w1_exp, rule.w2_exp)
    for n in ("w1", "w2"):
        assert set(np.unique(getattr(moved, n))) <= set(np.unique(getattr(rule, n)))
        assert not np.array_equal(getattr(moved, n), getattr(rule, n))


@pytest.mark.parametrize("on_grid", [False, True])
def test_float_step_equals_the_rule_applied_to_every_cell(on_grid):
    """The step runs the rule only where its result is kept (fired and alive before), reading only
    those cells' slots on a grid; the same rule applied densely to every cell, from every cell's
    slots, then masked, gives the same states and gradients."""
    from trainer.gridenv import StaleNeighbours
    from trainer.nca import PERCEPTION_DIVISOR, SLOT_SOBEL, perceive
    model = NCA.from_rule(NCA.random(24, 8, 1.5).export())
    g = torch.Generator().manual_seed(1)
    S0 = random_states(8, 3, 9, 7).permute(0, 3, 1, 2).float() / 4
    S0[:, spec.ALPHA] *= (torch.rand(3, 9, 7, generator=g) < 0.4) * 8   # alive, dead and empty cells
    fire = torch.rand(3, 9, 7, generator=g) < 0.5
    shares = torch.tensor([0.4, 0.3, 0.2, 0.1], dtype=torch.float64).expand(3, 8, 4)
    living = (torch.rand(3, 1, 9, 7, generator=g) > 0.1).float()

    def grid():   # every run draws the same slots: late, empty, relays lost
        env = StaleNeighbours(S0, shares, torch.Generator().manual_seed(5), living, "both")
        env.before = [S0 * 0.5, S0.flip(-1)]
        return env

    def dense(S, env):
        if env is None:
            raw, nb = perceive(S)
        else:
            views = env.views(S)                                             # [B, C, 8, H, W]
            sobel = torch.einsum("ks,bcshw->bckhw", SLOT_SOBEL, views)
            raw = torch.cat([S[:, :, None], sobel], 2).flatten(1, 2)
            nb = views[:, spec.ALPHA].amax(1, keepdim=True).detach()
        p = (raw / PERCEPTION_DIVISOR.view(1, -1, 1, 1)).permute(0, 2, 3, 1)
        h = torch.relu((p / model.input_unit) @ model.w1.T + model.b1)
        new = S + ((h @ model.w2.T + model.b2) * model.unit).permute(0, 3, 1, 2)
        threshold = 0.1 * 2 ** spec.STATE_FRAC_BITS
        alive = (torch.maximum(S[:, spec.ALPHA:spec.ALPHA + 1], nb) > threshold) \
            & (torch.maximum(new[:, spec.ALPHA:spec.ALPHA + 1].detach(), nb) > threshold)
        return torch.where(fire[:, None], torch.where(alive, new, torch.zeros(())), S)

    def sparse(S, env):
        return model.step(S, fire, quantize=False, slots=env.slots(S) if env else None)

    outs, grads = [], []
    for step in (sparse, dense):
        env = grid() if on_grid else None
        model.zero_grad()
        out = step(step(S0, env), env)
        out[:, :4].square().mean().backward()
        outs.append(out.detach())
        grads.append([p.grad.clone() for p in model.parameters()])
    assert (outs[0] != S0).any() and (outs[0] == 0).any() and (outs[0] == S0).any()
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-5, atol=1e-4)
    for a, b in zip(*grads):
        assert b.abs().sum() > 0
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
