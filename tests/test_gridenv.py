"""Grid-faithful neighbourhoods (trainer/gridenv.py) and the grid conditions they come from."""
import copy
import dataclasses
import json

import numpy as np
import pytest
import torch

from conftest import palette_rule, random_rule
from rule import conditions, intmodel, modelfile, schedule
from trainer.config import TrainConfig
from trainer.evaluate import evaluate, loss_after
from trainer.gridenv import EMPTY, StaleNeighbours, lost_relays, slot_shares
from trainer.nca import NCA, rollout
from twin import build as twin


def shares_of(age: int, batch: int) -> torch.Tensor:
    s = torch.zeros(batch, 8, len(conditions.AGES), dtype=torch.float64)
    s[..., age] = 1
    return s


def shifted(S, row, col):
    """The neighbour at NEIGHBOUR_ORDER position (row, col) of every cell, zeros outside."""
    H, W = S.shape[-2:]
    return torch.nn.functional.pad(S, (1, 1, 1, 1))[..., row:row + H, col:col + W]


@pytest.mark.parametrize("make", [lambda: palette_rule(3, hidden=37), lambda: random_rule(5, hidden=24, scale=2.0)])
def test_fresh_neighbour_slots_are_exactly_the_integer_model(make):
    """Slots that always hold the latest states: the QAT step with a model file's integers and
    the slots built one by one == the integer model, every cell, every step."""
    rule = make()
    B, H, W, steps = 3, 11, 9, 40
    seeds, threshold = torch.arange(B) + 7, schedule.fire_threshold(0.5)
    s = torch.randint(-128, 128, (B, H, W, 16), generator=torch.Generator().manual_seed(1)).to(torch.int8)
    S = s.permute(0, 3, 1, 2).float()
    env = StaleNeighbours(S, shares_of(0, B), torch.Generator().manual_seed(0))
    with torch.no_grad():
        got = rollout(NCA(rule.hidden), S, seeds, 0, steps, threshold, True, NCA.rule_weights(rule), env)
    r = intmodel.IntRule(rule)
    for t in range(steps):
        s = intmodel.step(r, s, seeds, t, threshold)
    assert torch.equal(got.permute(0, 2, 3, 1).to(torch.int8), s)


def test_slots_read_the_state_as_many_updates_old_as_drawn():
    g = torch.Generator().manual_seed(0)
    S0 = torch.randint(-50, 50, (2, 16, 5, 6), generator=g).float()
    S1, S2 = S0 + 1, S0 + 2
    everyone, nobody = torch.ones(2, 5, 6, dtype=torch.bool), torch.zeros(2, 5, 6, dtype=torch.bool)
    for age, want in ((0, S2), (1, S1), (2, S0), (EMPTY, torch.zeros_like(S0))):
        env = StaleNeighbours(S0, shares_of(age, 2), g)
        env.advance(S0, everyone)       # every cell updated S0 -> S1, then S1 -> S2
        env.advance(S1, everyone)
        env.advance(S2, nobody)         # a step where nobody fired changes no cell's history
        for view, (row, col) in zip(env.views(S2).unbind(2), intmodel.NEIGHBOUR_ORDER):
            assert torch.equal(view, shifted(want, row, col)), (age, row, col)


def test_ages_are_drawn_with_the_measured_shares():
    shares = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64).expand(4, 8, 4)
    S = torch.zeros(4, 16, 32, 32)
    env = StaleNeighbours(S, shares, torch.Generator().manual_seed(0))
    env.before = [S + 1, S + 2]
    tags = env.views(S + 3)[:, 0, :, 1:-1, 1:-1]   # inner cells: every slot exists
    got = [float((tags == value).double().mean()) for value in (3, 1, 2, 0)]   # latest, one behind, older, empty
    assert np.allclose(got, shares[0, 0].tolist(), atol=0.01)


def test_a_dead_board_takes_the_diagonals_it_relays():
    """Link protocol 3: diagonals come by the east and west neighbours' relays (docs/link-protocol.md):
    a cell whose east neighbour is dead loses NE and SE, one whose west neighbour is dead NW and SW."""
    living = torch.ones(1, 1, 5, 5)
    living[0, 0, 2, 3] = 0                                   # dead at row 2, column 3
    lost = lost_relays(living, conditions.EAST_WEST)[0]
    assert lost[[2, 7], 2, 2].all() and lost[[0, 5], 2, 4].all()      # west of it and east of it
    assert lost.sum() == 4
    S = torch.arange(16 * 25, dtype=torch.float32).view(1, 16, 5, 5) + 1
    views = StaleNeighbours(S, shares_of(0, 1), torch.Generator(), living, conditions.EAST_WEST).views(S).unbind(2)
    for k, (row, col) in enumerate(intmodel.NEIGHBOUR_ORDER):
        want = shifted(S, row, col) * ~lost[k]
        assert torch.equal(views[k], want), k


def test_relays_both_ways_lose_a_diagonal_only_when_both_relaying_boards_are_dead():
    """Link protocol 4: a diagonal comes by the east or west neighbour and by the north or south one;
    one dead board takes none, two dead (an L around the cell) take the diagonal between them."""
    living = torch.ones(1, 1, 5, 5)
    living[0, 0, 2, 3] = 0                                   # dead at row 2, column 3
    assert not lost_relays(living, conditions.BOTH).any()
    living[0, 0, 1, 2] = 0                                   # and at row 1, column 2
    lost = lost_relays(living, conditions.BOTH)[0]
    NE, SW = 2, 5
    assert lost[NE, 2, 2] and lost[SW, 1, 3] and lost.sum() == 2   # (2, 2)'s NE (1, 3), (1, 3)'s SW (2, 2)
    assert lost_relays(living, conditions.EAST_WEST)[0].sum() == 8
    S = torch.arange(16 * 25, dtype=torch.float32).view(1, 16, 5, 5) + 1
    views = StaleNeighbours(S, shares_of(0, 1), torch.Generator(), living, conditions.BOTH).views(S).unbind(2)
    for k, (row, col) in enumerate(intmodel.NEIGHBOUR_ORDER):
        assert torch.equal(views[k], shifted(S, row, col) * ~lost[k]), k
    with pytest.raises(ValueError, match="relays"):
        StaleNeighbours(S, shares_of(0, 1), torch.Generator(), living)       # dead boards need the scheme


def test_eval_on_a_grid_of_fresh_states_is_the_plain_eval():
    """evaluate(grid=...) runs the QAT forward in the grid environment; with every slot fresh
    its growth, persistence and regeneration are the integer model's, to the last bit."""
    rule = palette_rule(11, hidden=20)
    rule.target = np.zeros((10, 10, 4), np.float32)
    rule.target[3:7, 3:7] = 0.5
    fresh = {"format": conditions.FORMAT, "version": conditions.VERSION, "conditions": {
        conditions.CLEAN: {"orthogonal": [1, 0, 0, 0], "diagonal": [1, 0, 0, 0]}}}
    plain = evaluate(rule, runs=2)
    grid = evaluate(rule, runs=2, grid=conditions.check(fresh))
    for key in ("growth_loss", "persist_loss", "regen_loss"):
        assert grid[key] == plain[key], key
    assert "dead_boards_loss" not in grid and "corrupt_loss" not in grid


def test_eval_with_dead_boards_loses_the_diagonals_the_conditions_say(shipped_rule):
    """The relay scheme reaches the rollout: with fresh states and dead boards, relays both ways
    lose fewer diagonals than east-west ones, so the grown states differ; without a scheme, no run."""
    fresh = {"orthogonal": [1, 0, 0, 0], "diagonal": [1, 0, 0, 0]}
    loss = {relays: loss_after(shipped_rule, 60, fresh, dead=True, runs=2, relays=relays)
            for relays in conditions.RELAYS}
    assert loss[conditions.BOTH] != loss[conditions.EAST_WEST]
    with pytest.raises(ValueError, match="relays"):
        loss_after(shipped_rule, 60, fresh, dead=True, runs=2)


def test_the_shipped_conditions_are_the_twins_measurement():
    c = conditions.load(conditions.DEFAULT_FILE)
    assert set(c["conditions"]) == set(conditions.NAMES) and c["measured"]["by"] == "python -m twin staleness"
    clean = slot_shares(c["conditions"][conditions.CLEAN])
    assert clean.shape == (8, 4) and torch.allclose(clean.sum(-1), torch.ones(8, dtype=torch.float64))
    assert clean[1, 0] > clean[0, 0]          # orthogonal states are fresher than relayed diagonals
    assert c["relays"] == twin.firmware_relays() == conditions.BOTH   # measured with this firmware's relays


def test_the_shipped_rule_is_what_the_default_command_trains(shipped_rule):
    """README: `python -m trainer train` gives the shipped rule, so the recipe and the conditions its
    model file records are today's defaults (a changed default needs the rule retrained)."""
    assert conditions.check(shipped_rule.meta["grid_conditions"]) == conditions.load(conditions.DEFAULT_FILE)
    recorded = dict(shipped_rule.meta["config"], out_dir=None)
    assert recorded == dict(dataclasses.asdict(TrainConfig()), out_dir=None)


def test_the_rule_before_was_trained_in_the_protocol_3_file():
    """docs/default-rule.md's command re-creating the rule before names a file with protocol 3's relays."""
    v3 = conditions.load(conditions.REPO / "models" / "grid-conditions-v3.json")
    assert v3["relays"] == conditions.EAST_WEST and v3 != conditions.load(conditions.DEFAULT_FILE)


def test_conditions_without_relays_were_measured_with_east_west_relays():
    """Files from before link protocol 4 say nothing of relays: theirs were east and west only."""
    c = good_conditions()
    del c["relays"]
    assert conditions.check(c)["relays"] == conditions.EAST_WEST


def good_conditions():
    return copy.deepcopy(conditions.load(conditions.DEFAULT_FILE))


@pytest.mark.parametrize("damage, field", [
    (lambda c: c["conditions"]["clean"].update(orthogonal=[0.5, 0.5, 0.5, 0]), "conditions.clean.orthogonal"),
    (lambda c: c["conditions"]["clean"].update(diagonal=[1, 0, 0]), "conditions.clean.diagonal"),
    (lambda c: c["conditions"]["clean"].update(diagonal=[float("nan"), 0, 0, 1]), "conditions.clean.diagonal"),
    (lambda c: c["conditions"]["clean"].update(diagonal=[True, 0, 0, 0]), "conditions.clean.diagonal"),
    (lambda c: c["conditions"]["clean"].update(diagonal=[1.5, -0.5, 0, 0]), "conditions.clean.diagonal"),
    (lambda c: c["conditions"].pop("clean"), "conditions"),
    (lambda c: c["conditions"].update(sunny={}), "conditions"),
    (lambda c: c.update(version=99), "format"),
    (lambda c: c.update(measured="x" * 5000), "measured"),
    (lambda c: c.update(relays="diagonal"), "relays"),
    (lambda c: c.update(relays=["both"]), "relays"),
])
def test_bad_conditions_are_refused_naming_the_field(damage, field, tmp_path):
    c = good_conditions()
    damage(c)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(c))
    with pytest.raises(conditions.ConditionsError) as e:
        conditions.load(path)
    assert e.value.field == field


@pytest.mark.parametrize("content", [b"\xff\xfe", b"[" * 10000, b"{}", b"[]", b" " * 20000])
def test_a_conditions_file_that_is_not_one_is_refused(content, tmp_path):
    path = tmp_path / "c.json"
    path.write_bytes(content)
    with pytest.raises(conditions.ConditionsError):
        conditions.load(path)


def test_a_model_file_checks_the_conditions_it_records(tmp_path):
    rule = palette_rule(2)
    rule.meta["grid_conditions"] = good_conditions()
    modelfile.save(rule, tmp_path / "ok.npz")
    assert modelfile.load(tmp_path / "ok.npz").meta["grid_conditions"] == good_conditions()
    rule.meta["grid_conditions"]["conditions"]["clean"]["orthogonal"] = [2, 0, 0, 0]
    with pytest.raises(modelfile.ModelFileError) as e:
        modelfile.save(rule, tmp_path / "bad.npz")
    assert e.value.field == "meta.grid_conditions.conditions.clean.orthogonal"


def test_training_runs_in_the_conditions_and_records_them(tmp_path):
    from trainer.config import tiny
    from trainer.train import Trainer, TrainError
    cfg = dataclasses.replace(tiny(), out_dir=str(tmp_path / "run"), float_iters=3, qat_iters=2)
    t = Trainer(cfg)
    made = []
    original = t.stale_neighbours
    t.stale_neighbours = lambda *a: made.append(original(*a)) or made[-1]
    rule = t.run(progress=False)
    assert len(made) == 5 and made[0].lost is not None                    # every rollout, dead relays included
    assert rule.meta["grid_conditions"] == good_conditions()
    assert "grid_conditions" not in Trainer(dataclasses.replace(cfg, grid_conditions="")).export().meta
    with pytest.raises(TrainError, match="grid_conditions: .*no such file"):
        Trainer(dataclasses.replace(cfg, grid_conditions=str(tmp_path / "none.json")))


@pytest.mark.parametrize("fresh_share, clean_share", [(0.5, 0.0), (0.0, 0.5)])
def test_fresh_and_clean_samples(tmp_path, fresh_share, clean_share):
    """fresh_share: that share of each batch reads fresh states and keeps its dead boards;
    clean_share: that share has neither; the others train with the faults as without the options."""
    from trainer.config import tiny
    from trainer.train import Trainer
    cfg = dataclasses.replace(tiny(), out_dir=str(tmp_path / "run"), batch=64, pool_size=64, dead_share=0.5,
                              fresh_share=fresh_share, clean_share=clean_share, float_iters=1, qat_iters=0)
    t = Trainer(cfg)
    made, living = [], []
    stale, alive = t.stale_neighbours, t.living_cells
    t.stale_neighbours = lambda *a: made.append(stale(*a)) or made[-1]
    t.living_cells = lambda *a: living.append(alive(*a)) or living[-1]
    t.run(progress=False)
    assert len(made) == len(living) == 1
    fresh = (made[0].bounds[..., 0] == 1).flatten(1).all(1)        # every slot reads the latest state
    no_dead = (living[0] == 1).flatten(1).all(1)
    assert 16 < int(fresh.sum()) < 48                               # about half
    assert not no_dead[~fresh].all()                                # the others have their dead boards
    if clean_share:
        assert no_dead[fresh].all()
    else:
        assert (~no_dead[fresh]).float().mean() > 0.5               # fresh samples keep theirs


def test_cli_names_the_bad_field_of_a_conditions_file(tmp_path):
    import subprocess
    import sys
    c = good_conditions()
    c["conditions"]["dead boards"]["diagonal"] = [0.9, 0.9, 0, 0]
    path = tmp_path / "c.json"
    path.write_text(json.dumps(c))
    for cmd in (["eval", "--grid-conditions", str(path)], ["train", "--tiny", "--grid-conditions", str(path),
                                                           "--out-dir", str(tmp_path / "run")]):
        r = subprocess.run([sys.executable, "-m", "trainer", *cmd], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and "conditions.dead boards.diagonal: expected shares that add up to 1" in r.stderr
        assert "Traceback" not in r.stderr
