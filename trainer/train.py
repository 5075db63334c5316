"""Training (after the article): seed, pool of states, damage for regeneration, fire rate 0.5.

Phase 1 trains the float rule; phase 2 fine-tunes it quantization-aware, so the forward pass is
exactly the int8 rule that gets deployed. Checkpoints (.npz, written atomically) let a crashed
run resume where it stopped.
"""
import dataclasses
import functools
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from rule import conditions, intmodel, modelfile, npzfile, schedule, spec
from trainer.config import TrainConfig
from trainer.gridenv import FRESH, StaleNeighbours, slot_shares
from trainer.nca import NCA, rollout
from trainer.target import load_target

PARAMS = ("w1", "b1", "w2", "b2")


class TrainError(ValueError):
    """A run that cannot start: bad settings, or a checkpoint that does not fit or is damaged."""


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_units(grid: int, device, cell=spec.SEED_CELL) -> torch.Tensor:
    """The seed state, float [16, grid, grid] in state units."""
    return intmodel.seed_state(1, grid, grid, device, cell)[0].permute(2, 0, 1).float()


def per_sample_loss(S: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE over premultiplied RGBA; S in state units [B, 16, H, W], target [4, H, W]."""
    rgba = S[:, :4] / 2 ** spec.STATE_FRAC_BITS
    return ((rgba - target) ** 2).mean(dim=(1, 2, 3))


def circle_masks(n: int, grid: int, gen: torch.Generator, device) -> torch.Tensor:
    """Article's damage: True inside a random circle (centre U(-.5,.5), radius U(.1,.4))."""
    xs = torch.linspace(-1, 1, grid, device=device)
    c = (torch.rand(n, 2, generator=gen) - 0.5).to(device)
    r = (torch.rand(n, generator=gen) * 0.3 + 0.1).to(device)
    d2 = (xs.view(1, 1, -1) - c[:, 0, None, None]) ** 2 + (xs.view(1, -1, 1) - c[:, 1, None, None]) ** 2
    return d2 < (r ** 2)[:, None, None]


def half_masks(n: int, grid: int, gen: torch.Generator, device) -> torch.Tensor:
    """True on a random half of the grid (left, right, top or bottom): damage as large as eval's
    and the emulated grid's erasures, which circles never reach."""
    side = torch.randint(4, (n,), generator=gen).to(device)
    first = torch.arange(grid, device=device) < grid // 2
    cols, rows = first.view(1, 1, grid).expand(n, grid, grid), first.view(1, grid, 1).expand(n, grid, grid)
    halves = torch.stack([cols, ~cols, rows, ~rows], 1)             # [n, 4, H, W]
    return halves[torch.arange(n, device=device), side]


def living_cells(shares: torch.Tensor, height: int, width: int, gen: torch.Generator) -> torch.Tensor:
    """[B, H, W] bool: False where a board is dead, that share of each sample's boards (its state
    is held at 0, so its neighbours read 0, as after a link timeout); the seed's cell lives.
    The diagonals a dead board relays are lost in the grid conditions (trainer/gridenv.py)."""
    living = torch.rand(len(shares), height, width, generator=gen) >= shares[:, None, None]
    living[:, height // 2, width // 2] = True
    return living


def learning_rate(cfg: TrainConfig, it: int) -> float:
    if it >= cfg.float_iters:  # annealed: the pool's noisy gradients average out at the end
        done = (it - cfg.float_iters) / max(1, cfg.qat_iters)
        return cfg.qat_lr_end + (cfg.qat_lr - cfg.qat_lr_end) * 0.5 * (1 + math.cos(math.pi * done))
    return cfg.lr_late if it >= cfg.lr_drop_at else cfg.lr


class Trainer:
    def __init__(self, cfg: TrainConfig, device=None):
        problems = cfg.problems()
        if problems:
            raise TrainError("; ".join(problems))
        self.cfg = cfg
        self.device = torch.device(device) if device else default_device()
        self.out = Path(cfg.out_dir)
        self.target_np = load_target(cfg.target, cfg.pattern_size, cfg.grid_size)
        self.target = torch.from_numpy(self.target_np).permute(2, 0, 1).to(self.device)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.threshold = schedule.fire_threshold(cfg.fire_rate)
        self.model = NCA(cfg.hidden, seed=cfg.seed, palette=cfg.palette)
        self.start = None
        if cfg.init_from:
            start = modelfile.load(cfg.init_from)
            if start.hidden != cfg.hidden:
                raise modelfile.ModelFileError(cfg.init_from, "w1", f"{start.hidden} hidden units, the run asks for "
                                               f"{cfg.hidden}")
            self.start, self.model = start, NCA.from_rule(start)
            self.model.palette = cfg.palette
            if cfg.init_integers:
                self.model.fix_integers(start)
        self.model = self.model.to(self.device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.seed = seed_units(cfg.grid_size, self.device, spec.seed_cell(self.model.state_frac))
        self.pool = self.seed.repeat(cfg.pool_size, 1, 1, 1)
        self.iteration = 0
        self.history: list[float] = []
        self.conditions = None
        if cfg.grid_conditions:
            try:
                self.conditions = conditions.load(conditions.resolve(cfg.grid_conditions))
            except conditions.ConditionsError as e:
                raise TrainError(f"grid_conditions: {e}") from None
            self.slot_shares = torch.stack([slot_shares(c) for c in self.conditions["conditions"].values()])

    # --- checkpoints ---------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.out / "checkpoint.npz"

    def save_checkpoint(self):
        arrays = {n: getattr(self.model, n).detach().cpu().numpy() for n in PARAMS}
        for i, n in enumerate(PARAMS):
            st = self.opt.state_dict()["state"].get(i)
            if st:
                arrays[f"adam_{n}_m"] = st["exp_avg"].cpu().numpy()
                arrays[f"adam_{n}_v"] = st["exp_avg_sq"].cpu().numpy()
                arrays[f"adam_{n}_step"] = np.array(float(st["step"]))
        arrays["pool"] = self.pool.cpu().numpy()
        arrays["history"] = np.array(self.history, np.float64)
        arrays["rng"] = self.gen.get_state().numpy()
        meta = {"iteration": self.iteration, "config": dataclasses.asdict(self.cfg)}
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        npzfile.atomic_savez(self.checkpoint_path, arrays, compress=False)

    def checkpoint_schema(self) -> dict:
        cfg = self.cfg
        params = 2 * (cfg.hidden * spec.PERCEPTION + cfg.hidden + spec.CHANNELS * cfg.hidden + spec.CHANNELS)
        floats = (np.float32, np.float64)
        return {"w*": (floats, params), "b*": (floats, params), "adam_*": (floats, params),
                "pool": (floats, cfg.pool_size * spec.CHANNELS * cfg.grid_size ** 2),
                "history": (floats, cfg.total_iters + 1), "rng": ((np.uint8,), 1 << 16),
                "meta": ((np.uint8,), 1 << 20)}

    def load_checkpoint(self) -> bool:
        """Resume from the run folder's checkpoint. A damaged one or one of another run is an
        error that leaves it where it is: nothing is overwritten (--restart sets it aside)."""
        if not self.checkpoint_path.is_file():
            return False
        try:
            schema = self.checkpoint_schema()
            meta = json.loads(npzfile.read(self.checkpoint_path, schema, only=("meta",))["meta"].tobytes().decode())
            saved = meta["config"]
            for key in ("target", "pattern_size", "grid_size", "hidden", "palette", "pool_size", "float_iters"):
                if saved.get(key, 0 if key == "palette" else None) != getattr(self.cfg, key):
                    raise TrainError(f"{self.checkpoint_path} was made with {key}={saved.get(key)!r:.60}, "
                                     f"this run asks for {getattr(self.cfg, key)!r}; use another --out-dir, "
                                     "or --restart to set the checkpoint aside and start over")
            self._apply_checkpoint(npzfile.read(self.checkpoint_path, schema), int(meta["iteration"]))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError, RuntimeError) as e:
            if isinstance(e, TrainError):
                raise
            raise TrainError(f"{self.checkpoint_path} is damaged or not a checkpoint of this trainer ({e}). It is "
                             "left as it is: run the same command with --restart to set it aside and start over, "
                             "or use another --out-dir") from None
        return True

    def _apply_checkpoint(self, a: dict, iteration: int):
        with torch.no_grad():
            for n in PARAMS:
                getattr(self.model, n).copy_(torch.from_numpy(a[n].reshape(getattr(self.model, n).shape)))
        state = {}
        for i, n in enumerate(PARAMS):
            if f"adam_{n}_m" in a:
                state[i] = {"step": torch.tensor(float(a[f"adam_{n}_step"])),
                            "exp_avg": torch.from_numpy(a[f"adam_{n}_m"]).to(self.device),
                            "exp_avg_sq": torch.from_numpy(a[f"adam_{n}_v"]).to(self.device)}
        sd = self.opt.state_dict()
        sd["state"] = state
        self.opt.load_state_dict(sd)
        self.pool = torch.from_numpy(a["pool"].astype(np.float32).reshape(self.pool.shape)).to(self.device)
        self.history = a["history"].tolist()
        self.gen.set_state(torch.from_numpy(a["rng"]))
        self.iteration = iteration

    def start_pool(self, model: NCA, progress: bool, steps: int = 1200, every: int = 20) -> torch.Tensor:
        """pool_size states from `model`'s float rollouts from the seed (every `every` steps up to
        `steps`; half the rollouts with the left half erased at steps // 3, so regrowth is in it)."""
        cfg, size = self.cfg, self.cfg.grid_size
        runs = -(-cfg.pool_size // (steps // every))
        S = self.seed.repeat(runs, 1, 1, 1)
        seeds = torch.randint(0, 2 ** 31, (runs,), generator=self.gen).to(self.device)
        kept = []
        with torch.no_grad():
            for t in tqdm(range(steps), desc="pool from the start rule", unit="step", leave=False, disable=not progress):
                if t == steps // 3:
                    S[runs // 2:, :, :, : size // 2] = 0
                S = model.step(S, schedule.fire_mask(seeds, t, size, size, self.threshold), quantize=False)
                if t % every == every - 1:
                    kept.append(S.clone())
        pool = torch.cat(kept)
        return pool[torch.randperm(len(pool), generator=self.gen)[:cfg.pool_size].to(self.device)]

    # --- training --------------------------------------------------------------------------
    def train_step(self) -> float:
        cfg, it = self.cfg, self.iteration
        quantize = it >= cfg.float_iters
        if it == cfg.float_iters:  # entering QAT: pool states become valid int8 states
            self.pool = torch.clamp(torch.round(self.pool), -128, 127)
        for g in self.opt.param_groups:
            g["lr"] = learning_rate(cfg, it)

        idx = torch.randint(cfg.pool_size, (cfg.batch,), generator=self.gen).to(self.device)
        x = self.pool[idx]
        with torch.no_grad():
            order = per_sample_loss(x, self.target).argsort(descending=True)
        idx, x = idx[order], x[order].clone()
        x[0] = self.seed
        if cfg.damage:
            erase = circle_masks(cfg.damage, cfg.grid_size, self.gen, self.device)
            halves = self.half_damaged()
            if halves:
                erase[:halves] = half_masks(halves, cfg.grid_size, self.gen, self.device)
            x[-cfg.damage:] *= ~erase[:, None]

        fresh = self.some_samples(cfg.fresh_share if self.conditions else 0)   # fresh is all there is without them
        clean = self.some_samples(cfg.clean_share)
        living = self.living_cells(clean) if cfg.dead_share else None
        steps = int(torch.randint(cfg.rollout_min, cfg.rollout_max, (), generator=self.gen))
        seeds = torch.randint(0, 2 ** 31, (cfg.batch,), generator=self.gen).to(self.device)
        weights = self.model.qat_weights() if quantize else None
        grid = self.stale_neighbours(x, living, fresh | clean) if self.conditions else None
        x = rollout(self.model, x, seeds, 0, steps, self.threshold, quantize, weights, grid, living)
        loss = per_sample_loss(x, self.target).mean()

        self.opt.zero_grad()
        loss.backward()
        for p in self.model.parameters():  # article: per-variable gradient normalisation
            p.grad /= p.grad.norm() + 1e-8
        self.opt.step()
        self.pool[idx] = x.detach()
        self.iteration += 1
        return loss.item()

    def half_damaged(self) -> int:
        """How many of this batch's damaged samples lose a half: half_damage's whole part, and one
        more with the chance of its fraction (a whole number draws nothing, so its runs stay as they were)."""
        whole = int(self.cfg.half_damage)
        part = self.cfg.half_damage - whole
        return whole + int(bool(part) and float(torch.rand((), generator=self.gen)) < part)

    def some_samples(self, share: float) -> torch.Tensor:
        """[batch] bool: each sample picked with chance `share` (share 0 draws nothing, so runs
        without the option train as before it existed)."""
        if not share:
            return torch.zeros(self.cfg.batch, dtype=torch.bool)
        return torch.rand(self.cfg.batch, generator=self.gen) < share

    def stale_neighbours(self, x, living, fresh) -> StaleNeighbours:
        """Each sample a grid in one of the measured conditions, drawn with equal shares
        (the `fresh` samples' neighbour states are the latest)."""
        pick = torch.randint(len(self.slot_shares), (self.cfg.batch,), generator=self.gen)
        shares = self.slot_shares[pick]
        shares[fresh] = FRESH
        return StaleNeighbours(x, shares, self.gen, living, self.conditions["relays"])

    def living_cells(self, clean) -> torch.Tensor:
        """[B, 1, H, W]: each sample with its own share of dead boards in [0, dead_share) (none if clean)."""
        cfg = self.cfg
        shares = torch.rand(cfg.batch, generator=self.gen) * cfg.dead_share
        shares[clean] = 0
        return living_cells(shares, cfg.grid_size, cfg.grid_size, self.gen)[:, None].to(self.device)

    def export(self) -> modelfile.CellRule:
        cfg = self.cfg
        meta = {"name": cfg.name, "target": cfg.target, "pattern_size": cfg.pattern_size,
                "grid": [cfg.grid_size, cfg.grid_size], "trained_iterations": self.iteration,
                "final_loss": self.history[-1] if self.history else None,
                "config": dataclasses.asdict(cfg)}
        if self.conditions:
            meta["grid_conditions"] = self.conditions   # what the rule was trained for
        return self.model.export(meta=meta, target=self.target_np)

    @property
    def best_path(self) -> Path:
        return self.out / "best.npz"

    def best_so_far(self, score) -> tuple:
        """(score, rule) of best.npz when resuming; else of the rule as it is now if it is already
        an integer rule of this run (a run that is all QAT), else (inf, None): nothing to beat yet."""
        if self.iteration > 0 and self.best_path.is_file():
            rule = modelfile.load(self.best_path)
        elif self.iteration >= self.cfg.float_iters:
            rule = self.export()
            modelfile.save(rule, self.best_path)
        else:
            return math.inf, None
        return score(rule, math.inf), rule

    def keep_if_better(self, score, best: tuple) -> tuple:
        """(the rule's score now, the better (score, rule) of it and best)."""
        rule = self.export()
        value = score(rule, best[0])
        if not value < best[0]:     # nan never wins
            return value, best
        modelfile.save(rule, self.best_path)
        return value, (value, rule)

    def set_checkpoint_aside(self) -> Path | None:
        """--restart: keep the old checkpoint as checkpoint.npz.old (replacing an older one)."""
        if not self.checkpoint_path.is_file():
            return None
        old = self.checkpoint_path.with_name(self.checkpoint_path.name + ".old")
        self.checkpoint_path.replace(old)
        return old

    def run(self, progress: bool = True, score=None) -> modelfile.CellRule:
        """Train to the end and write model.npz. In QAT, every check_every iterations and at the end,
        the rule is scored (score(rule, to_beat) -> float, lower is better, to_beat the best score
        so far; default: evaluate.check_score, other schedule seeds than eval's); the run ends with
        its best-scoring rule (kept in best.npz as it goes), so QAT's jitter, or a fine-tune that
        got worse, never hands back a worse rule. check_every 0: no checks, the last rule."""
        cfg = self.cfg
        if score is None and cfg.check_every:
            from trainer import evaluate      # checks on the run's own device, not always the CPU
            score = functools.partial(evaluate.check_score, device=self.device)
        self.out.mkdir(parents=True, exist_ok=True)
        if self.load_checkpoint():
            print(f"resuming from {self.checkpoint_path} at iteration {self.iteration}")
        elif cfg.pool_from_start:
            self.pool = self.start_pool(NCA.from_rule(self.start).to(self.device), progress)
        best = self.best_so_far(score) if score else None
        if best and best[1] is not None and progress:
            print(f"check of the rule to beat: {best[0]:.3e}")
        bar = tqdm(total=cfg.total_iters, initial=self.iteration, disable=not progress,
                   unit="it", dynamic_ncols=True)
        t0 = time.time()
        while self.iteration < cfg.total_iters:
            loss = self.train_step()
            self.history.append(loss)
            phase = "qat" if self.iteration > cfg.float_iters else "float"
            bar.set_postfix_str(f"{phase} loss {loss:.2e} lr {learning_rate(cfg, self.iteration - 1):.0e}")
            bar.update(1)
            end = self.iteration == cfg.total_iters
            if score and self.iteration > cfg.float_iters and (self.iteration % max(1, cfg.check_every) == 0 or end):
                value, best = self.keep_if_better(score, best)   # before the checkpoint: a resumed run never skips one
                if progress and best[1] is not None:
                    bar.write(f"check at iteration {self.iteration}: {value:.3e} (best {best[0]:.3e}, "
                              f"iteration {best[1].meta.get('trained_iterations')})")
            if self.iteration % cfg.checkpoint_every == 0 or end:
                self.save_checkpoint()
        bar.close()
        kept = best[1] if best else None
        rule = kept if kept is not None else self.export()
        modelfile.save(rule, self.out / "model.npz")
        note = f" (the best check, iteration {rule.meta['trained_iterations']})" if kept is not None else ""
        print(f"trained {self.iteration} iterations in {time.time() - t0:.0f} s; model: {self.out / 'model.npz'}{note}")
        return rule
