"""The integer model against hand-computed answers and the scalar reference of the doc."""
import dataclasses

import numpy as np
import pytest
import torch

from conftest import extreme_rule, palette_rule, random_rule, random_states, scaled
from reference import ScalarRule
from rule import intmodel, schedule, spec
from rule.modelfile import CellRule

A = spec.ALPHA


def hand_rule(w1=None, b1=0, w2=None, b2=0, e1=2, e2=2, hidden=1) -> CellRule:
    z = lambda shape: np.zeros(shape, np.int8)
    return CellRule(w1=z((hidden, spec.PERCEPTION)) if w1 is None else w1.astype(np.int8),
                    b1=np.full(hidden, b1, np.int16),
                    w2=z((spec.CHANNELS, hidden)) if w2 is None else w2.astype(np.int8),
                    b2=np.full(spec.CHANNELS, b2, np.int16), w1_exp=e1, w2_exp=e2)


def fire_all(rule, grid):
    """Every cell fires once: grid int8 [H, W, 16] -> int list."""
    return intmodel.update(intmodel.IntRule(rule), torch.as_tensor(grid)[None].int())[0].tolist()


def test_state_saturates_up_and_down():
    grid = np.zeros((1, 3, 16), np.int8)
    grid[0, :, A] = 64
    # b2 = 32767 at shift k2 = 3: d = 4096, every channel saturates at 127
    out = fire_all(hand_rule(b2=32767), grid)
    assert out[0][1] == [127] * 16
    # b2 = -32768: d = -4096 -> -128; alpha -128 but neighbours alive (64) -> the cell lives
    out = fire_all(hand_rule(b2=-32768), grid)
    assert out[0][1] == [-128] * 16


def test_hidden_saturates_at_255_and_rounding_of_layer2():
    w1 = np.zeros((1, spec.PERCEPTION)); w1[0, 3 * A] = 127      # reads own alpha
    w2 = np.ones((spec.CHANNELS, 1))                                # each channel += h
    grid = np.zeros((1, 1, 16), np.int8)
    grid[0, 0, A] = 127
    grid[0, 0, 0] = -40
    # a1 = 127 * 127 = 16129, k1 = 1 -> 8065 -> saturates to 255; a2 = 255, k2 = 3 -> 32
    out = fire_all(hand_rule(w1=w1, w2=w2), grid)[0][0]
    assert out[0] == -40 + 32 and out[A] == 127 and out[4] == 32


def test_dead_cells_become_zero_and_alive_needs_a_neighbour():
    grid = np.zeros((3, 3, 16), np.int8)
    grid[0, 0, 5] = 99               # hidden junk in a corner with no alive neighbour
    grid[2, 2, A] = 7                # just above the threshold (7 > 6)
    out = fire_all(hand_rule(), grid)
    assert out[0][0] == [0] * 16     # corner (0,0) does not touch (2,2): dead
    assert out[1][1][A] == 0 and out[2][2][A] == 7  # zero rule: alive cells keep their state
    grid[2, 2, A] = 6                # at the threshold: not alive
    assert fire_all(hand_rule(), grid)[2][2] == [0] * 16


def test_alive_after_uses_own_new_alpha():
    grid = np.zeros((1, 1, 16), np.int8)
    grid[0, 0, A] = 64
    # alone on a 1x1 grid: alpha 64 -> 64 - 60 = 4 after the update -> dead after
    assert fire_all(hand_rule(b2=-60 * 8), grid)[0][0] == [0] * 16
    assert fire_all(hand_rule(b2=-50 * 8), grid)[0][0][A] == 14


def test_sobel_reads_zero_outside_the_grid_and_saturates():
    w1 = np.zeros((2, spec.PERCEPTION)); w1[0, 3 * 5 + 1] = 1; w1[1, 3 * 5 + 2] = -1  # gx, -gy of ch 5
    w2 = np.zeros((spec.CHANNELS, 2)); w2[6, 0] = 1; w2[7, 1] = 1
    rule = hand_rule(w1=w1, w2=w2, e1=7, e2=7, hidden=2)  # k1 = 6, k2 = 8
    grid = np.zeros((2, 2, 16), np.int8)
    grid[:, :, A] = 64
    grid[:, :, 5] = 127
    ref = ScalarRule(rule)
    g = grid.astype(int).tolist()
    out = fire_all(rule, grid)
    for y in range(2):
        for x in range(2):
            assert out[y][x] == ref.fire_in_grid(g, x, y)
    # top row -128, bottom row 127: gy_raw = 4*127 + 4*128 = 1020 -> round_shift 128 -> 127
    full = np.zeros((3, 3, 16), np.int8); full[0, :, 5] = -128; full[2, :, 5] = 127
    p = intmodel.perceive(torch.as_tensor(full)[None].int())[0]
    assert int(p[1, 1, 3 * 5 + 2]) == 127 and int(p[1, 1, 3 * 5 + 1]) == 0
    p = intmodel.perceive(-1 - torch.as_tensor(full)[None].int())[0]  # mirrored: -1020 -> -127
    assert int(p[1, 1, 3 * 5 + 2]) == -127


@pytest.mark.parametrize("shape", [(5, 7), (1, 6), (4, 1), (1, 1)])
@pytest.mark.parametrize("make", [lambda: random_rule(3), lambda: random_rule(4, scale=4.0),
                                  lambda: extreme_rule(5), lambda: palette_rule(6),
                                  lambda: scaled(extreme_rule(7), 7), lambda: scaled(random_rule(8, scale=4.0), 8)])
def test_integer_model_equals_scalar_reference(shape, make):
    rule = make()
    H, W = shape
    s = random_states(11, 1, H, W)
    s[0, :, :, A] = torch.randint(-10, 40, (H, W), generator=torch.Generator().manual_seed(1)).to(torch.int8)
    out = fire_all(rule, s[0])
    ref, g = ScalarRule(rule), s[0].int().tolist()
    for y in range(H):
        for x in range(W):
            assert out[y][x] == ref.fire_in_grid(g, x, y), (y, x)


def test_step_fires_only_scheduled_cells():
    rule = random_rule(8)
    r = intmodel.IntRule(rule)
    s = random_states(2, 2, 6, 6)
    seeds = torch.tensor([3, 4])
    out = intmodel.step(r, s, seeds, 17, 32768)
    fire = schedule.fire_mask(seeds, 17, 6, 6, 32768)
    all_fired = intmodel.update(r, s.int()).to(torch.int8)
    assert torch.equal(out[fire], all_fired[fire]) and torch.equal(out[~fire], s[~fire])


def test_seed_state():
    s = intmodel.seed_state(2, 24, 24)
    assert s.dtype == torch.int8 and int(s.sum()) == 2 * 13 * 64
    assert s[0, 12, 12].tolist() == [0, 0, 0] + [64] * 13
    # with per-channel scales the seed is still 1.0 in every channel: 2^f_c
    rule = scaled(random_rule(1), 3)
    cell = intmodel.seed_state(1, 5, 5, cell=rule.seed_cell)[0, 2, 2].tolist()
    assert cell == [0, 0, 0] + [2 ** f for f in rule.state_frac[3:]] and 4 in cell and 64 in cell


def test_layer2_shifts_each_channel_to_its_own_scale():
    # one hidden unit at 128 (1.0); W2 = 64 at e2 = 6 (1.0): every channel's update is 1.0 in its units
    w1 = np.zeros((1, spec.PERCEPTION), np.int8)
    w1[0, 3 * A] = 127
    rule = dataclasses.replace(hand_rule(w1=w1, w2=np.full((spec.CHANNELS, 1), 64), e1=7, e2=6), state_frac=(6,) * 4 + (2, 3, 4, 5, 6) + (6,) * 7)
    grid = np.zeros((1, 1, 16), np.int8)
    grid[0, 0, A] = 64   # alpha 1.0: a1 = 127 * 64 = 8128 at k1 = 6 -> h = 127
    new = fire_all(rule, grid)[0][0]
    # a2 = 64 * 127 = 8128 at 2^-(7+6): 0.992; in units of 2^-f: round_shift(8128, 13 - f)
    assert new[4:9] == [4, 8, 16, 32, 64] and new[A] == 127   # alpha: 64 + 64 saturates
