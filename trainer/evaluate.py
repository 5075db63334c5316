"""The quality bars of a rule, measured through the integer model under the shared schedule."""
import math
from pathlib import Path

import torch

from rule import conditions, intmodel, schedule, spec
from rule.modelfile import CellRule, ModelFileError
from trainer.gridenv import StaleNeighbours, slot_shares
from trainer.nca import NCA, rollout
from trainer.train import living_cells, per_sample_loss

GROWTH_STEPS, PERSIST_STEPS, REGEN_STEPS = 200, 2000, 300
DEAD_SHARE = 0.1   # dead boards (state held at 0) for the dead-boards figure: the emulated grid's 10% fault
CHECK_SEEDS = range(1000, 1032)   # the training checks' schedule seeds (eval uses 0..runs-1)...
SCREEN_SEEDS, SCREEN = 4, 1.25     # ...of which a check runs 4, and all 32 where that is within 1.25x of the best
BARS = {"growth_loss": 1e-3, "persist_loss": 1e-3, "regen_loss": 2e-3, "quantization_cost": 2e-4}


def run_losses(s: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The loss of each run; s int8 [B, H, W, 16]."""
    return per_sample_loss(s.permute(0, 3, 1, 2).float(), target)


FAILING = 2.0   # a run this many times the median of its bar's runs has failed (a speck, a drift)


def mean_and_worst(losses: dict) -> dict:
    """{name: per-run losses} -> {name_loss: their mean, name_worst: the worst run's, name_failing:
    how many runs are over FAILING x the median: a rule failing 1 run in 10 has a mean that looks
    like a small bias}."""
    out = {}
    for name, runs in losses.items():
        out[f"{name}_loss"], out[f"{name}_worst"] = float(runs.mean()), float(runs.max())
        out[f"{name}_failing"] = int((runs > FAILING * runs.median()).sum())
    return out


def failing_text(failing: int, runs: int) -> str:
    """How eval and the bench say a bar's failing runs."""
    return f"{failing} of {runs} runs over {FAILING:g}x the median"


REGROWTH_LAGS = 1.5   # regeneration this many times growth: the erased half came back wrong (smiley 2.5x; others 1.0-1.05x)


def regrowth_lags(result: dict) -> bool:
    """The picture regrows worse than it grows: on the mean, or in a failing run (the ladybug's 1 in 20)."""
    if "regen_loss" not in result or "growth_loss" not in result:
        return False
    return result["regen_loss"] > REGROWTH_LAGS * result["growth_loss"] or result.get("regen_failing", 0) > 0


def int_loss(s: torch.Tensor, target: torch.Tensor) -> float:
    """Mean over the batch of the per-sample loss; s int8 [B, H, W, 16]."""
    return float(run_losses(s, target).mean())


def living_loss(s: torch.Tensor, target: torch.Tensor, living: torch.Tensor) -> float:
    """Loss on the living cells only; s int8 [B, H, W, 16], living bool [B, H, W, 1]."""
    error = (s[..., :4].float() / 2 ** spec.STATE_FRAC_BITS - target.permute(1, 2, 0)) ** 2 * living
    return float(error.sum() / (living.sum() * 4))


def erase_left_half(s: torch.Tensor) -> torch.Tensor:
    s = s.clone()
    s[:, :, : s.shape[2] // 2] = 0
    return s


def run_int(r, s, seeds, start, stop, threshold):
    """Steps start..stop-1 of the shared schedule."""
    for t in range(start, stop):
        s = intmodel.step(r, s, seeds, t, threshold)
    return s


def evaluate(rule: CellRule, runs: int = 16, fire_rate: float = 0.5, device="cpu", path="<model>",
             grid: dict | None = None) -> dict:
    """The bars' figures (means over the runs; *_worst: the worst run's, where a rare failure
    shows). grid: measured grid conditions (rule/conditions.py): the same figures with the
    neighbour states as late as on that grid (evaluate_on_grid)."""
    if rule.target is None:
        raise ModelFileError(path, "target", "missing: eval needs the target the rule was trained on")
    if grid is not None:
        return evaluate_on_grid(rule, grid, runs, fire_rate, device)
    H, W = rule.target.shape[:2]
    target = torch.from_numpy(rule.target).permute(2, 0, 1).to(device)
    threshold = schedule.fire_threshold(fire_rate)
    seeds = torch.arange(runs, dtype=torch.int64, device=device)
    r = intmodel.IntRule(rule, device)
    with torch.no_grad():
        s = run_int(r, intmodel.seed_state(runs, H, W, device, rule.seed_cell), seeds, 0, GROWTH_STEPS, threshold)
        growth = run_losses(s, target)
        regen = run_losses(run_int(r, erase_left_half(s), seeds, GROWTH_STEPS, GROWTH_STEPS + REGEN_STEPS,
                                   threshold), target)
        persist = run_losses(run_int(r, s, seeds, GROWTH_STEPS, PERSIST_STEPS, threshold), target)

        living = dead_boards(runs, H, W, device).permute(0, 2, 3, 1) > 0
        s = intmodel.seed_state(runs, H, W, device, rule.seed_cell)
        for t in range(GROWTH_STEPS):
            s = intmodel.step(r, s, seeds, t, threshold) * living
        dead = living_loss(s, target, living)

        model = NCA.from_rule(rule).to(device)
        S = intmodel.seed_state(runs, H, W, device, rule.seed_cell).permute(0, 3, 1, 2).float()
        for t in range(GROWTH_STEPS):
            S = model.step(S, schedule.fire_mask(seeds, t, H, W, threshold), quantize=False)
        float_growth = float(per_sample_loss(S, target).mean())
    out = mean_and_worst({"growth": growth, "persist": persist, "regen": regen})
    return {**out, "float_growth_loss": float_growth, "quantization_cost": out["growth_loss"] - float_growth,
            "dead_boards_loss": dead, "runs": runs, "fire_rate": fire_rate}


def evaluate_float(rule: CellRule, runs: int = 16, fire_rate: float = 0.5, device="cpu") -> dict:
    """Growth, persistence and regeneration of the model file's float rule (no rounding, no
    saturation: docs/cell-rule.md, "The float rule"), under the same schedule as the integer rule."""
    if rule.float_params is None:
        raise ModelFileError("<model>", "float_w1", "missing: the file holds no float rule")
    H, W = rule.target.shape[:2]
    target = torch.from_numpy(rule.target).permute(2, 0, 1).to(device)
    threshold = schedule.fire_threshold(fire_rate)
    seeds = torch.arange(runs, dtype=torch.int64, device=device)
    model = NCA.from_rule(rule).to(device)

    def run(S, start, stop):
        return rollout(model, S, seeds, start, stop, threshold, False)

    def loss(S):
        return float(per_sample_loss(S, target).mean())

    with torch.no_grad():
        S = run(intmodel.seed_state(runs, H, W, device, rule.seed_cell).permute(0, 3, 1, 2).float(), 0, GROWTH_STEPS)
        erased = S.clone()
        erased[..., : W // 2] = 0
        return {"growth_loss": loss(S), "persist_loss": loss(run(S, GROWTH_STEPS, PERSIST_STEPS)),
                "regen_loss": loss(run(erased, GROWTH_STEPS, GROWTH_STEPS + REGEN_STEPS)), "runs": runs}


def grid_run(rule: CellRule, S, start: int, stop: int, condition: dict, seeds, threshold: int, living=None,
             device="cpu", relays=None):
    """Steps start..stop-1 of the integer rule from S [B, 16, H, W] with neighbour states as late
    as in `condition` (one measured condition of rule/conditions.py; the diagonals dead boards
    relayed lost, as `relays` says).
    The rule runs as the QAT forward with the model file's integers: the integer model exactly
    (tests/test_qat.py, tests/test_gridenv.py)."""
    shares = slot_shares(condition).expand(len(S), -1, -1)
    env = StaleNeighbours(S, shares, torch.Generator().manual_seed(start), living, relays)
    return rollout(NCA(rule.hidden).to(device), S, seeds, start, stop, threshold, True,
                   NCA.rule_weights(rule, device), env, living)


def evaluate_on_grid(rule: CellRule, grid: dict, runs: int = 16, fire_rate: float = 0.5, device="cpu") -> dict:
    """Growth, persistence and regeneration as on a clean grid; growth with 10% of the boards dead
    (the diagonals they relayed lost, as the conditions' `relays` say) and with corrupted bytes, each
    in its measured condition. grid: a conditions file's contents (rule/conditions.py)."""
    grid = conditions.check(grid)
    H, W = rule.target.shape[:2]
    target = torch.from_numpy(rule.target).permute(2, 0, 1).to(device)
    threshold = schedule.fire_threshold(fire_rate)
    seeds = torch.arange(runs, dtype=torch.int64, device=device)
    conds = grid["conditions"]

    def run(S, start, stop, condition, living=None):
        return grid_run(rule, S, start, stop, conds[condition], seeds, threshold, living, device, grid["relays"])

    seed = intmodel.seed_state(runs, H, W, device, rule.seed_cell).permute(0, 3, 1, 2).float()
    out = {"runs": runs, "fire_rate": fire_rate, "grid_conditions": grid.get("measured", {})}
    with torch.no_grad():
        S = run(seed, 0, GROWTH_STEPS, conditions.CLEAN)
        erased = S.clone()
        erased[..., : W // 2] = 0
        regen = run(erased, GROWTH_STEPS, GROWTH_STEPS + REGEN_STEPS, conditions.CLEAN)
        persist = run(S, GROWTH_STEPS, PERSIST_STEPS, conditions.CLEAN)
        out.update(mean_and_worst({name: per_sample_loss(states, target) for name, states in
                                   (("growth", S), ("regen", regen), ("persist", persist))}))
        if conditions.DEAD in conds:
            living = dead_boards(runs, H, W, device)
            out["dead_boards_loss"] = state_loss(run(seed, 0, GROWTH_STEPS, conditions.DEAD, living), target, living)
        if conditions.CORRUPT in conds:
            out["corrupt_loss"] = state_loss(run(seed, 0, GROWTH_STEPS, conditions.CORRUPT), target)
    return out


def loss_after(rule: CellRule, stop: int, condition: dict | None = None, dead: bool = False, erase_at=None,
               runs: int = 16, fire_rate: float = 0.5, device="cpu", first_seed: int = 0,
               relays=None) -> float:
    """The integer rule's loss after `stop` steps from the seed: with fresh neighbour states, or as
    late as in a measured `condition` (with dead boards, the diagonals they relayed lost as
    `relays` says: rule/conditions.py); with eval's dead boards (loss on the living ones); with the
    bottom half erased at step `erase_at`. For comparing with a grid at the matching time; schedule
    seeds first_seed.. (eval's are 0..runs-1)."""
    H, W = rule.target.shape[:2]
    target = torch.from_numpy(rule.target).permute(2, 0, 1).to(device)
    threshold = schedule.fire_threshold(fire_rate)
    seeds = torch.arange(first_seed, first_seed + runs, dtype=torch.int64, device=device)
    living = dead_boards(runs, H, W, device) if dead else None
    S = intmodel.seed_state(runs, H, W, device, rule.seed_cell).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        for start, end in ((0, erase_at), (erase_at, stop)) if erase_at is not None else ((0, stop),):
            if start:
                S[..., H // 2:, :] = 0
            if condition is None:
                S = rollout(NCA(rule.hidden).to(device), S, seeds, start, end, threshold, True,
                            NCA.rule_weights(rule, device), None, living)
            else:
                S = grid_run(rule, S, start, end, condition, seeds, threshold, living, device, relays)
    return state_loss(S, target, living)


def state_loss(S: torch.Tensor, target: torch.Tensor, living=None) -> float:
    """int_loss of states [B, 16, H, W] (float of integers); on the living cells if living [B, 1, H, W]."""
    s = S.permute(0, 2, 3, 1).to(torch.int8)
    return int_loss(s, target) if living is None else living_loss(s, target, living.permute(0, 2, 3, 1) > 0)


def dead_boards(runs: int, H: int, W: int, device="cpu") -> torch.Tensor:
    """[runs, 1, H, W] float: 0 on the DEAD_SHARE of boards eval kills (the same in every eval)."""
    shares = torch.full((runs,), DEAD_SHARE)
    return living_cells(shares, H, W, torch.Generator().manual_seed(0))[:, None].float().to(device)


def passes(result: dict) -> dict:
    return {k: result[k] <= bar for k, bar in BARS.items() if k in result}


def save_pictures(rule: CellRule, out_dir, fire_rate: float = 0.5, schedule_seed: int = 0) -> list:
    """target.png; growth.png + growth.gif (from the seed); regen.png (left half erased at 200)."""
    from rule.pictures import rgba_to_image, save_gif, state_to_image, strip
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    H, W = rule.target.shape[:2]
    r = intmodel.IntRule(rule)
    threshold = schedule.fire_threshold(fire_rate)
    seeds = torch.tensor([schedule_seed], dtype=torch.int64)
    growth_shots, regen_shots = (0, 10, 25, 50, 100, 200, 1000, 2000), (0, 25, 50, 100, 200, 300)
    with torch.no_grad():
        s, growth, frames = intmodel.seed_state(1, H, W, cell=rule.seed_cell), [], []
        for t in range(PERSIST_STEPS + 1):
            if t in growth_shots:
                growth.append(s[0])
            if t <= GROWTH_STEPS and t % 4 == 0:
                frames.append(state_to_image(s[0]))
            if t == GROWTH_STEPS:
                damaged = erase_left_half(s)
            if t < PERSIST_STEPS:
                s = intmodel.step(r, s, seeds, t, threshold)
        s, regen = damaged, [growth[growth_shots.index(GROWTH_STEPS)]]
        for t in range(REGEN_STEPS + 1):
            if t in regen_shots:
                regen.append(s[0])
            s = intmodel.step(r, s, seeds, GROWTH_STEPS + t, threshold)
    paths = [out / "target.png", out / "growth.png", out / "growth.gif", out / "regen.png"]
    rgba_to_image(rule.target).save(paths[0])
    strip([state_to_image(g) for g in growth], [f"step {t}" for t in growth_shots]).save(paths[1])
    save_gif(frames, paths[2])
    strip([state_to_image(g) for g in regen],
          [f"step {GROWTH_STEPS}", "erased"] + [f"+{t}" for t in regen_shots[1:]]).save(paths[3])
    return paths


def check_losses(rule, seeds=CHECK_SEEDS, device="cpu") -> dict:
    """The integer rule's mean losses at growth (step 200), persistence (step 2,000) and
    regeneration (left half erased at 200, 300 steps on) on the schedule seeds `seeds` (by default
    CHECK_SEEDS, which eval does not use), from one run: the QAT forward with the file's integers
    (the integer model exactly)."""
    H, W = rule.target.shape[:2]
    target = torch.from_numpy(rule.target).permute(2, 0, 1).to(device)
    threshold = schedule.fire_threshold(0.5)
    seeds = torch.tensor(list(seeds), dtype=torch.int64, device=device)
    model, weights = NCA(rule.hidden).to(device), NCA.rule_weights(rule, device)

    def run(S, start, stop):
        return rollout(model, S, seeds, start, stop, threshold, True, weights)

    def loss(S):
        return float(per_sample_loss(S, target).mean())

    with torch.no_grad():
        S = run(intmodel.seed_state(len(seeds), H, W, device, rule.seed_cell).permute(0, 3, 1, 2).float(),
                0, GROWTH_STEPS)
        erased = S.clone()
        erased[..., : W // 2] = 0
        return {"growth": loss(S), "persist": loss(run(S, GROWTH_STEPS, PERSIST_STEPS)),
                "regen": loss(run(erased, GROWTH_STEPS, GROWTH_STEPS + REGEN_STEPS))}


def geometric_mean(losses: dict) -> float:
    """A mean of ratios, so halving any one loss counts the same (a sum let the largest hide one that got worse)."""
    return math.prod(losses.values()) ** (1 / len(losses))


def check_score(rule, to_beat: float = math.inf, device="cpu") -> float:
    """What training keeps its best QAT rule by (`check_every`; lower is better): the geometric
    mean of check_losses on the first SCREEN_SEEDS of CHECK_SEEDS, and, where that is within SCREEN
    of `to_beat` (the best score so far), on all of them. Most checks cost 4 runs; the rule kept
    is judged on 32, where a rare failing run shows (4 seeds picked fish rules that failed 1 run
    in 16 of eval's; 16 picked a boom rule that failed 1 run in 10: its 16 seeds had none)."""
    score = geometric_mean(check_losses(rule, CHECK_SEEDS[:SCREEN_SEEDS], device))
    if score < SCREEN * to_beat:
        score = geometric_mean(check_losses(rule, CHECK_SEEDS, device))
    return score
