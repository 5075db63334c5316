"""python -m trainer bench: training iterations/s and cell updates/s, float vs integer, measured
side by side in one run, on the CPU and on CUDA when present."""
import dataclasses
import tempfile
import time

import torch

from rule import intmodel, modelfile, schedule
from trainer.config import TrainConfig
from trainer.nca import NCA, rollout
from trainer.train import Trainer


def rate(fn, seconds: float) -> float:
    """Calls of fn per second, after one warm-up call, over at least `seconds`."""
    fn()
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        if (dt := time.perf_counter() - t0) >= seconds:
            return n / dt


def grown_pool(rule, device, size: int, steps: int = 96) -> torch.Tensor:
    """`size` states of `rule`'s float rollouts from the seed, past the middle of its growth: the
    rule only runs on living cells, so a pool of seeds would time too little work."""
    H, W = rule.target.shape[:2]
    model = NCA.from_rule(rule).to(device)
    seeds = torch.arange(size, device=device)
    S = intmodel.seed_state(size, H, W, device, rule.seed_cell).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        return rollout(model, S, seeds, 0, steps, schedule.fire_threshold(0.5), quantize=False)


def train_rates(rule, device, seconds, grid_conditions, pool):
    """Iterations/s of the float and the QAT phase, each rollout the recipe's mean length (a
    random length made short windows noisy), training `rule` from `pool` (states of a grown picture)."""
    base = TrainConfig()
    mean = (base.rollout_min + base.rollout_max - 1) // 2
    with tempfile.TemporaryDirectory() as d:
        cfg = dataclasses.replace(base, out_dir=d, float_iters=10 ** 9, rollout_min=mean, rollout_max=mean + 1,
                                  grid_conditions=grid_conditions, pool_size=len(pool))
        t = Trainer(cfg, device=device)
        t.model = NCA.from_rule(rule).to(device)
        t.opt = torch.optim.Adam(t.model.parameters(), lr=cfg.lr)
        t.pool = pool.clone()
        floating = rate(t.train_step, seconds)
        t.cfg = dataclasses.replace(cfg, float_iters=0)
        t.iteration = 0
        qat = rate(t.train_step, seconds)
    return floating, qat


def update_rates(rule, device, seconds, batch=16):
    """Cell updates/s (fired cells, fire rate 0.5) of the integer model and the float model."""
    H, W = rule.target.shape[:2]
    seeds = torch.arange(batch, device=device)
    r = intmodel.IntRule(rule, device)
    model = NCA.from_rule(rule).to(device)
    steps = 20
    threshold = schedule.fire_threshold(0.5)

    def run_int():
        s = intmodel.seed_state(batch, H, W, device)
        for t in range(steps):
            s = intmodel.step(r, s, seeds, t, threshold)
        if device.type == "cuda":
            torch.cuda.synchronize()

    def run_float():
        S = intmodel.seed_state(batch, H, W, device).permute(0, 3, 1, 2).float()
        with torch.no_grad():
            for t in range(steps):
                S = model.step(S, schedule.fire_mask(seeds, t, H, W, threshold), quantize=False)
        if device.type == "cuda":
            torch.cuda.synchronize()

    cells = batch * H * W * steps * 0.5
    return rate(run_int, seconds) * cells, rate(run_float, seconds) * cells


def main(args):
    rule = modelfile.load()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"rule: {rule.name}, hidden {rule.hidden}, grid {rule.target.shape[0]}x{rule.target.shape[1]}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    cfg = TrainConfig()
    for dev in devices:
        pool = grown_pool(rule, dev, 64)
        fl, qat = train_rates(rule, dev, args.seconds, "", pool)
        gfl, gqat = train_rates(rule, dev, args.seconds, cfg.grid_conditions, pool)
        iu, fu = update_rates(rule, dev, args.seconds)
        print(f"[{dev.type}] training it/s:      float {fl:8.2f}   QAT {qat:8.2f}   QAT/float {qat / fl:5.2f}"
              "   (fresh neighbour states)")
        print(f"[{dev.type}] training it/s:      float {gfl:8.2f}   QAT {gqat:8.2f}   grid/fresh {gfl / fl:5.2f} and "
              f"{gqat / qat:5.2f}   (in the grid conditions: the default)")
        minutes = (cfg.float_iters / gfl + cfg.qat_iters / gqat) / 60
        print(f"[{dev.type}] the default recipe ({cfg.float_iters} + {cfg.qat_iters} iterations): {minutes:.1f} min "
              "of training")
        print(f"[{dev.type}] cell updates/s:     float {fu:8.3g}   int {iu:8.3g}   int/float {iu / fu:5.2f}")
