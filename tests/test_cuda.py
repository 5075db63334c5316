"""CUDA gives the CPU's integers: the integer model, the QAT forward (fresh and grid-late
neighbours, dead boards), the generated C against the CUDA model, and training on CUDA whose run
resumes on the CPU. Runs where a GPU is present (python -m pytest -q tests/test_cuda.py)."""
import dataclasses

import numpy as np
import pytest
import torch

from conftest import extreme_rule, palette_rule, random_states
from hostsim.__main__ import main as hostsim_main
from rule import conditions, intmodel, modelfile, schedule
from test_qat import run_both
from trainer.config import tiny
from trainer.evaluate import dead_boards, evaluate, grid_run
from trainer.train import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def test_cpu_equals_cuda(shipped_rule):
    H, W = shipped_rule.target.shape[:2]
    seeds = torch.arange(4)
    for rule, start in ((shipped_rule, intmodel.seed_state(4, H, W)),
                        (extreme_rule(3), random_states(3, 4, 10, 13))):
        cpu = list(run_both(rule, start, seeds, 60, "cpu"))
        gpu = list(run_both(rule, start, seeds, 60, "cuda"))
        for (t, s, S), (_, sg, Sg) in zip(cpu, gpu):
            assert torch.equal(s, sg.cpu()), f"int model step {t}"
            assert torch.equal(S, Sg.cpu()), f"QAT step {t}"


@pytest.mark.parametrize("condition", conditions.NAMES)
def test_grid_conditions_cpu_equals_cuda(shipped_rule, condition):
    """What training and eval --grid run: the integer rule on late neighbour states (the draws come
    from a CPU generator), dead boards with their relays lost; the same states on both devices."""
    grid_file = conditions.load(conditions.DEFAULT_FILE)
    grid = grid_file["conditions"][condition]
    H, W = shipped_rule.target.shape[:2]
    for rule, start in ((shipped_rule, intmodel.seed_state(4, H, W, cell=shipped_rule.seed_cell)),
                        (palette_rule(4, hidden=40), random_states(4, 4, H, W))):
        out = []
        for device in ("cpu", "cuda"):
            S = start.to(device).permute(0, 3, 1, 2).float()
            living = dead_boards(4, H, W, device) if condition == conditions.DEAD else None
            seeds = torch.arange(4, device=device) + 11
            with torch.no_grad():
                out.append(grid_run(rule, S, 0, 150, grid, seeds, schedule.fire_threshold(0.5), living, device,
                                        grid_file["relays"]).cpu())
        assert torch.equal(out[0], out[1]), rule.name
        assert out[0].abs().sum() > 0


def test_eval_on_cuda_is_the_cpus(shipped_rule):
    """The same int8 states; the losses are float means of them, summed in another order on the GPU."""
    cpu, gpu = evaluate(shipped_rule, runs=2), evaluate(shipped_rule, runs=2, device="cuda")
    assert set(cpu) == set(gpu)
    for key, value in cpu.items():
        assert gpu[key] == pytest.approx(value, rel=1e-6, abs=1e-12), key


@pytest.mark.parametrize("init", ["seed", "random"])
def test_generated_c_equals_the_cuda_model(capsys, init):
    assert hostsim_main(["check", "--device", "cuda", "--steps", "300", "--quiet", "--seed", "5", "--init", init]) == 0
    assert capsys.readouterr().out.startswith("identical: 300 steps")


def test_training_on_cuda_writes_an_exact_rule_that_resumes_on_the_cpu(tmp_path):
    cfg = dataclasses.replace(tiny(), out_dir=str(tmp_path / "run"), float_iters=12, qat_iters=6,
                              checkpoint_every=6, check_every=3)
    t = Trainer(cfg, device="cuda")
    rule = t.run(progress=False)
    assert t.pool.is_cuda and modelfile.load(tmp_path / "run" / "model.npz").content_hash() == rule.content_hash()
    H, W = rule.target.shape[:2]
    start = intmodel.seed_state(3, H, W, cell=rule.seed_cell)
    for t_, s, S in run_both(rule, start, torch.arange(3), 40, "cuda"):
        assert torch.equal(S.permute(0, 2, 3, 1).to(torch.int8), s), f"step {t_}"
    # a GPU run's checkpoint goes on on a CPU
    more = Trainer(dataclasses.replace(cfg, qat_iters=9), device="cpu")
    assert more.load_checkpoint() and more.iteration == 18 and not more.pool.is_cuda
    assert np.array_equal(more.model.w1.detach().numpy(), t.model.w1.detach().cpu().numpy())
    assert more.run(progress=False).meta["trained_iterations"] in (15, 18, 21)   # its best check
