"""Training runs, checkpoints atomically, and resumes after a crash."""
import dataclasses
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from rule import modelfile
from trainer.config import tiny
from trainer.train import Trainer, TrainError


def small(tmp_path, **kw):
    return dataclasses.replace(tiny(), out_dir=str(tmp_path / "run"), float_iters=6, qat_iters=4,
                               checkpoint_every=3, **kw)


def test_training_writes_a_valid_model_and_lowers_the_loss(tmp_path):
    cfg = dataclasses.replace(small(tmp_path), float_iters=40, qat_iters=10)
    rule = Trainer(cfg).run(progress=False)
    back = modelfile.load(tmp_path / "run" / "model.npz")
    assert back.content_hash() == rule.content_hash() and back.target.shape == (12, 12, 4)
    assert back.meta["trained_iterations"] == 50
    assert back.meta["palette"] == cfg.palette == 16      # the default: 4-bit weights on the cell
    assert len(np.unique(back.w1)) <= 16 and len(np.unique(back.w2)) <= 16
    hist = Trainer(cfg)
    assert hist.load_checkpoint() and len(hist.history) == 50
    assert np.mean(hist.history[-10:]) < np.mean(hist.history[:5])


class Crash(Exception):
    pass


def test_resume_after_crash(tmp_path, monkeypatch):
    cfg = small(tmp_path)
    t = Trainer(cfg)
    original = Trainer.train_step

    def crashing(self):
        if self.iteration == 7:   # dies in the QAT phase, after the checkpoint at 6
            raise Crash()
        return original(self)

    monkeypatch.setattr(Trainer, "train_step", crashing)
    with pytest.raises(Crash):
        t.run(progress=False)
    monkeypatch.setattr(Trainer, "train_step", original)

    resumed = Trainer(cfg)
    assert resumed.load_checkpoint() and resumed.iteration == 6
    assert torch.equal(resumed.model.w1.cpu(), torch.from_numpy(np.load(tmp_path / "run" / "checkpoint.npz")["w1"]))
    resumed = Trainer(cfg)
    rule = resumed.run(progress=False)
    assert resumed.iteration == 10 and len(resumed.history) == 10
    assert modelfile.load(tmp_path / "run" / "model.npz").content_hash() == rule.content_hash()


def test_checkpoint_of_another_config_is_not_silently_used(tmp_path):
    Trainer(small(tmp_path)).run(progress=False)
    with pytest.raises(TrainError, match="made with hidden=32, this run asks for 8"):
        Trainer(small(tmp_path, hidden=8)).run(progress=False)


def test_cli_init_is_deterministic_and_loads(tmp_path):
    outs = []
    for name in ("a.npz", "b.npz"):
        r = subprocess.run([sys.executable, "-m", "trainer", "init", "--out", str(tmp_path / name),
                            "--seed", "4", "--hidden", "20"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        outs.append(modelfile.load(tmp_path / name))
    assert outs[0].content_hash() == outs[1].content_hash() and outs[0].hidden == 20
    assert outs[0].w2.any()  # an untrained but active rule


def test_cli_bad_target(tmp_path):
    r = subprocess.run([sys.executable, "-m", "trainer", "train", "--tiny", "--target", "\ue000",
                        "--out-dir", str(tmp_path / "r")], capture_output=True, text=True)
    assert r.returncode == 2 and "unknown emoji" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "trainer", "train", "--tiny", "--threads", "0",
                        "--out-dir", str(tmp_path / "r")], capture_output=True, text=True)
    assert r.returncode == 2 and "--threads: expected at least 1, got 0" in r.stderr and not (tmp_path / "r").exists()


def test_dead_cells_stay_empty_and_the_seed_lives(tmp_path, monkeypatch):
    """dead_share: each sample gets its own dead cells, read as 0 by their neighbours, as a dead
    board's links time out; the seed's cell always lives."""
    cfg = small(tmp_path, dead_share=0.5)
    t = Trainer(cfg)
    t.pool = torch.randint(-60, 60, t.pool.shape, generator=torch.Generator().manual_seed(0)).float().to(t.device)
    masks = []
    original = t.living_cells
    monkeypatch.setattr(t, "living_cells", lambda *a: masks.append(original(*a)) or masks[-1])
    seen = []
    step = t.model.step
    monkeypatch.setattr(t.model, "step", lambda x, fire, *q: seen.append(x) or step(x, fire, *q))
    t.train_step()
    living, g = masks[0], cfg.grid_size
    assert living.shape == (cfg.batch, 1, g, g) and living[:, 0, g // 2, g // 2].all()
    dead_share = 1 - living.float().mean(dim=(1, 2, 3))
    assert (dead_share > 0).all() and (dead_share < 0.5).all() and len(set(dead_share.tolist())) > 1
    assert all(not (x * ~living).any() for x in seen)     # every step sees the dead cells empty


def test_fine_tuning_starts_from_a_model(tmp_path):
    start = Trainer(small(tmp_path)).run(progress=False)
    path = tmp_path / "run" / "model.npz"
    t = Trainer(small(tmp_path / "ft", init_from=str(path)))
    assert t.export().content_hash() == start.content_hash()
    with pytest.raises(modelfile.ModelFileError, match="hidden units"):
        Trainer(small(tmp_path / "ft2", init_from=str(path), hidden=8))
    r = subprocess.run([sys.executable, "-m", "trainer", "train", "--tiny", "--init-from", str(tmp_path / "no.npz"),
                        "--out-dir", str(tmp_path / "r")], capture_output=True, text=True)
    assert r.returncode == 2 and "no.npz" in r.stderr and "Traceback" not in r.stderr


def test_bench_recipe_trains_evaluates_and_tables_each_picture(tmp_path):
    """The bench's plumbing on the tiny config: each picture trained by the train command in its
    own folder (with the bench's --palette), evaluated plain and on a grid, one row each; a second
    call resumes, not retrains."""
    cmd = [sys.executable, "-m", "trainer", "bench-recipe", "--tiny", "--emoji", "fish", "smiley", "--runs", "1",
           "--out-dir", str(tmp_path), "--half-damage", "1", "--palette", "32"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    rows = (tmp_path / "results.md").read_text().splitlines()
    assert len(rows) == 4 and rows[2].startswith("| 🐠 fish |") and rows[3].startswith("| 😀 smiley |")
    import json
    results = json.loads((tmp_path / "results.json").read_text())
    for res in results:
        rule = modelfile.load(tmp_path / res["name"] / "model.npz")
        assert rule.meta["target"] == res["target"] and rule.meta["config"]["hidden"] == 32   # tiny, target changed
        assert rule.meta["palette"] == 32 and rule.meta["config"]["half_damage"] == 1
        assert set(res["plain"]) >= {"growth_loss", "persist_loss", "regen_loss", "regen_worst", "dead_boards_loss"}
        assert {"dead_boards_loss", "corrupt_loss"} <= set(res["grid"])
    first = (tmp_path / "fish" / "checkpoint.npz").stat().st_mtime_ns
    r = subprocess.run(cmd[:6] + ["fish"] + cmd[8:], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and (tmp_path / "fish" / "checkpoint.npz").stat().st_mtime_ns == first
    bad = subprocess.run(cmd[:6] + ["unicorn"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--emoji: unknown 'unicorn'" in bad.stderr
    bad = subprocess.run(cmd[:-1] + ["33"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "palette: expected 0 (any int8) or 2..32, got 33" in bad.stderr
    bad = subprocess.run(cmd + ["--half-damage", "9"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "half_damage: expected 0..damage" in bad.stderr and "Traceback" not in bad.stderr


def test_bench_recipe_table_says_how_many_runs_fail():
    from trainer.bench_recipe import table
    plain = {"growth_loss": 2e-4, "persist_loss": 5e-4, "regen_loss": 2e-4, "growth_worst": 2.1e-4,
             "persist_worst": 5e-3, "regen_worst": 2.2e-4, "growth_failing": 0, "persist_failing": 1,
             "regen_failing": 0, "dead_boards_loss": 4e-3, "runs": 16}
    row = {"name": "boom", "target": "💥", "plain": plain, "grid": {"growth_loss": 2e-4}, "train_min": 17.0,
           "threads": 1}
    steady = dict(row, plain={**plain, "persist_loss": 2e-4, "persist_worst": 2.3e-4, "persist_failing": 0})
    failing, clean = table([row, steady])[2:]
    assert "| 5.00e-03 (1 of 16 runs over 2x the median) |" in failing and "FAIL" in failing
    assert "| 2.30e-04 |" in clean and "over" not in clean and "pass" in clean


def test_fine_tuning_from_integers_on_a_pool_of_the_start_rule(tmp_path, monkeypatch):
    # what `trainer import --finetune` runs: the start's integers, scales and palettes held
    start = Trainer(small(tmp_path)).run(progress=False)
    cfg = dataclasses.replace(small(tmp_path / "ft", init_from=str(tmp_path / "run" / "model.npz"), init_integers=True,
                                    pool_from_start=True, pool_size=16), float_iters=0, qat_iters=4)
    t = Trainer(cfg)
    assert all(np.array_equal(getattr(t.export(), n), getattr(start, n)) for n in ("w1", "b1", "w2", "b2"))
    seen = []
    original = Trainer.train_step
    def record(self):
        seen.append(self.pool.clone())
        return original(self)
    monkeypatch.setattr(Trainer, "train_step", record)
    tuned = t.run(progress=False)
    # the pool began as the start rule's rollouts: grown states, not copies of the seed
    alive = (seen[0][:, 3] > 0).flatten(1).sum(1)
    assert len(seen) == 4 and (alive > 1).sum() >= len(alive) // 2 and len(set(alive.tolist())) > 1
    assert (tuned.w1_exp, tuned.w2_exp) == (start.w1_exp, start.w2_exp)
    for n in ("w1", "w2"):
        assert set(np.unique(getattr(tuned, n))) <= set(np.unique(getattr(start, n)))
    with pytest.raises(TrainError, match="init_integers"):
        Trainer(small(tmp_path / "x", init_integers=True))


def test_a_scored_run_ends_with_its_best_checked_rule(tmp_path, monkeypatch, capsys):
    start = Trainer(small(tmp_path)).run(progress=False)
    path = str(tmp_path / "run" / "model.npz")
    cfg = dataclasses.replace(small(tmp_path / "a", init_from=path, init_integers=True), float_iters=0, qat_iters=6,
                              checkpoint_every=2, check_every=2)
    scored = []
    def score(rule, to_beat):   # prefers the start: a fine-tune that only got worse hands back its start
        scored.append(rule.meta["trained_iterations"])
        return rule.meta["trained_iterations"]
    kept = Trainer(cfg).run(progress=False, score=score)
    assert scored == [0, 2, 4, 6] and kept.meta["trained_iterations"] == 0
    assert all(np.array_equal(getattr(kept, n), getattr(start, n)) for n in ("w1", "b1", "w2", "b2"))
    assert modelfile.load(tmp_path / "a" / "run" / "model.npz").content_hash() == kept.content_hash()
    # the best so far survives a crash: a resumed run compares against best.npz, not its restart point
    cfg = dataclasses.replace(cfg, out_dir=str(tmp_path / "b"))
    original = Trainer.train_step
    def crash_at_5(self):
        if self.iteration == 5:
            raise Crash()
        return original(self)
    monkeypatch.setattr(Trainer, "train_step", crash_at_5)
    with pytest.raises(Crash):
        Trainer(cfg).run(progress=False, score=lambda r, to_beat: abs(r.meta["trained_iterations"] - 2))
    monkeypatch.setattr(Trainer, "train_step", original)
    capsys.readouterr()
    kept = Trainer(cfg).run(progress=True, score=lambda r, to_beat: abs(r.meta["trained_iterations"] - 2))
    assert kept.meta["trained_iterations"] == 2
    out = capsys.readouterr().out   # every check is shown, with the best so far
    assert "check of the rule to beat: 0.000e+00" in out
    assert "check at iteration 6: 4.000e+00 (best 0.000e+00, iteration 2)" in out


def test_training_checks_only_qat_rules_and_keeps_the_best(tmp_path, monkeypatch):
    """The default: QAT's rule is checked every check_every iterations and at the end on other
    schedule seeds (evaluate.check_score); float rules are never checked; the best check is kept."""
    import trainer.evaluate
    scored = []
    def score(rule, to_beat, device):   # the check's verdict: iteration 8 is best
        assert device == torch.device("cpu")        # the run's own
        scored.append((rule.meta["trained_iterations"], to_beat))
        return abs(rule.meta["trained_iterations"] - 8)
    monkeypatch.setattr(trainer.evaluate, "check_score", score)
    cfg = dataclasses.replace(small(tmp_path), float_iters=4, qat_iters=7, check_every=2)
    kept = Trainer(cfg).run(progress=False)
    # each check is told the best score so far (the check runs all its seeds only near it)
    assert scored == [(6, math.inf), (8, 2), (10, 0), (11, 0)] and kept.meta["trained_iterations"] == 8
    assert modelfile.load(tmp_path / "run" / "model.npz").content_hash() == kept.content_hash()
    scored.clear()
    last = Trainer(dataclasses.replace(cfg, out_dir=str(tmp_path / "off"), check_every=0)).run(progress=False)
    assert scored == [] and last.meta["trained_iterations"] == 11


def test_half_damage_erases_a_random_half_instead_of_a_circle(tmp_path, monkeypatch):
    import trainer.train
    cfg = small(tmp_path, damage=3, half_damage=2, dead_share=0.0, grid_conditions="")
    t = Trainer(cfg)
    pool = torch.randint(1, 60, t.pool.shape, generator=torch.Generator().manual_seed(0)).float().to(t.device)
    started = []
    original = trainer.train.rollout
    monkeypatch.setattr(trainer.train, "rollout", lambda model, x, *a: started.append(x.clone()) or original(model, x, *a))
    g = cfg.grid_size
    first = torch.arange(g) < g // 2
    cols, rows = first.view(1, g).expand(g, g), first.view(g, 1).expand(g, g)
    halves = [cols, ~cols, rows, ~rows]
    sides = set()
    for _ in range(6):
        t.pool = pool.clone()                                     # no cell empty before the damage
        t.train_step()
        empty = (started[-1] == 0).all(1).cpu()                  # [B, H, W]: every channel erased
        for e in empty[-3:-1]:                                   # the first half_damage of the damaged samples
            side = [k for k, h in enumerate(halves) if torch.equal(e, h)]
            assert len(side) == 1
            sides.add(side[0])
        assert 0 < int(empty[-1].sum()) < g * g // 2                # the last one: a circle
        assert not empty[1:-3].any()                              # undamaged samples
    assert len(sides) > 1                                         # the side is drawn
    with pytest.raises(TrainError, match="half_damage: expected 0..damage"):
        Trainer(small(tmp_path, damage=1, half_damage=2))


def test_half_damage_fraction_is_one_more_half_in_that_share_of_batches(tmp_path):
    t = Trainer(small(tmp_path, damage=3, half_damage=1.25, dead_share=0.0, grid_conditions=""))
    counts = [t.half_damaged() for _ in range(400)]
    assert set(counts) == {1, 2} and 60 <= counts.count(2) <= 140          # binomial(400, 0.25): 100 +- 9
    t = Trainer(small(tmp_path / "whole", damage=3, half_damage=1, dead_share=0.0, grid_conditions=""))
    before = t.gen.get_state()
    assert [t.half_damaged() for _ in range(5)] == [1] * 5
    assert torch.equal(t.gen.get_state(), before)                         # a whole number draws nothing: runs as before
