"""python -m hostsim: the generated C on the host.

  run     grow a rule with the generated C; a GIF and a PNG strip
  check   the generated C against the PyTorch integer model (CPU or CUDA), every cell, every step
  bench   cell updates/s of the generated C beside the integer model
  fuzz    hostile bytes into the firmware's link and command parsers (ASan+UBSan) and the
          monitor's line parser
"""
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from hostsim.clib import CGrid, CompileError, CRule
from hostsim.grids import (GRID_MAX, UsageError, check_fits_memory, erase, parse_point, parse_rect, random_grid,
                           seeded)
from rule import cli, intmodel, modelfile, schedule, spec
from rule.modelfile import ModelFileError


def add_common(p):
    cli.add_model(p)
    p.add_argument("--grid", metavar="WxH", help="grid width x height (default: the model's grid)")
    p.add_argument("--seed", type=int, default=0, help="schedule seed")
    p.add_argument("--fire-rate", type=float, default=0.5)
    p.add_argument("--seed-at", help="X,Y of the seed cell (default: the centre)")
    p.add_argument("--damage-at", type=int, help="erase a region at this step")
    p.add_argument("--damage-rect", help="X0,Y0,X1,Y1 to erase (default: the left half)")


def setup(args):
    if args.steps < 1:
        raise UsageError(f"--steps: expected at least 1, got {args.steps}")
    rule = modelfile.load(args.model)
    width, height = cli.grid_of(args.grid, rule, max_side=GRID_MAX)
    check_fits_memory(width, height, rule.hidden)
    if args.damage_at is not None and args.damage_at < 0:
        raise UsageError(f"--damage-at: expected a step >= 0, got {args.damage_at}")
    rect = parse_rect(args.damage_rect, width, height) if args.damage_rect else (0, 0, width // 2, height)
    at = parse_point(args.seed_at, width, height, "--seed-at") if args.seed_at else None
    schedule.fire_threshold(args.fire_rate)
    return rule, width, height, rect, at


def first_difference(c: np.ndarray, t: np.ndarray) -> str:
    y, x, ch = np.argwhere(c != t)[0]
    return f"cell (x={x}, y={y}) channel {ch}: C {c[y, x, ch]}, PyTorch {t[y, x, ch]}"


def cmd_check(args) -> int:
    rule, width, height, rect, at = setup(args)
    start = random_grid(width, height, args.seed) if args.init == "random" else seeded(width, height, at, rule.seed_cell)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    c = CGrid(CRule(rule, Path(args.model).name), start, args.seed, args.fire_rate)
    r = intmodel.IntRule(rule, device)
    s = torch.from_numpy(start)[None].to(device)
    seeds = torch.tensor([args.seed & spec.MASK32], device=device)
    t0 = time.time()
    for t in tqdm(range(args.steps), disable=args.quiet, unit="step", leave=False):
        if t == args.damage_at:
            erase(c.state, rect)
            s = torch.from_numpy(erase(s[0].cpu().numpy(), rect))[None].to(device)
        cs = c.step(t)
        s = intmodel.step(r, s, seeds, t, c.threshold)
        ts = s[0].cpu().numpy()
        if not np.array_equal(cs, ts):
            print(f"DIFFERENT at step {t}: {first_difference(cs, ts)} "
                  f"({int((cs != ts).sum())} values differ)")
            return 1
    alive = int((c.state[..., spec.ALPHA] > spec.ALIVE_THRESHOLD).sum())
    print(f"identical: {args.steps} steps x {width}x{height} cells x {spec.CHANNELS} channels, "
          f"model {rule.name} ({rule.content_hash()[:12]}), schedule seed {args.seed}, "
          f"{device.type}; {alive} cells alive at the end ({time.time() - t0:.1f} s)")
    return 0


def cmd_run(args) -> int:
    from rule.pictures import save_gif, state_to_image, strip
    rule, width, height, rect, at = setup(args)
    c = CGrid(CRule(rule, Path(args.model).name), seeded(width, height, at, rule.seed_cell), args.seed, args.fire_rate)
    frames, shots = [state_to_image(c.state)], [state_to_image(c.state)]
    every = max(1, args.steps // 100)
    for t in tqdm(range(args.steps), disable=args.quiet, unit="step", leave=False):
        if t == args.damage_at:
            erase(c.state, rect)
            shots.append(state_to_image(c.state))
        c.step(t)
        if (t + 1) % every == 0:
            frames.append(state_to_image(c.state))
        if (t + 1) in (25, 50, 100, 200) or t + 1 == args.steps:
            shots.append(state_to_image(c.state))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_gif(frames, out)
    strip(shots).save(out.with_suffix(".png"))
    msg = f"{args.steps} steps of {rule.name} on a {width}x{height} grid (generated C): {out}, {out.with_suffix('.png')}"
    if rule.target is not None and rule.target.shape[:2] == (height, width):
        rgba = c.state[..., :4].astype(np.float32) / 2 ** spec.STATE_FRAC_BITS
        msg += f"; loss vs target {float(((rgba - rule.target) ** 2).mean()):.2e}"
    print(msg)
    return 0


def cmd_bench(args) -> int:
    """Cell updates/s of the generated C and of the PyTorch integer model (CPU), same grid, same run."""
    rule, width, height, rect, at = setup(args)
    crule = CRule(rule, Path(args.model).name)
    threshold = schedule.fire_threshold(args.fire_rate)
    # start from a grown pattern, so nearly every firing runs the whole network
    c = CGrid(crule, seeded(width, height, at, rule.seed_cell), args.seed, args.fire_rate)
    for t in range(200):
        c.step(t)
    start = c.state.copy()
    fired = sum(int(schedule.fire_mask(torch.tensor([args.seed]), t, height, width, threshold).sum())
                for t in range(200, 200 + args.steps))
    c = CGrid(crule, start, args.seed, args.fire_rate)
    t0 = time.perf_counter()
    for t in range(200, 200 + args.steps):
        c.step(t)
    c_rate = fired / (time.perf_counter() - t0)
    r = intmodel.IntRule(rule, "cpu")
    results = {}
    for batch in (1, 16):
        s = torch.from_numpy(start)[None].repeat(batch, 1, 1, 1)
        seeds = torch.full((batch,), args.seed)
        t0 = time.perf_counter()
        for t in range(200, 200 + args.steps):
            s = intmodel.step(r, s, seeds, t, threshold)
        results[batch] = batch * fired / (time.perf_counter() - t0)
        if batch == 1 and not np.array_equal(s[0].numpy(), c.state):
            print("error: C and PyTorch disagree", file=sys.stderr)
            return 1
    print(f"{rule.name}, {width}x{height} grid, {args.steps} steps, {fired} cell updates, {torch.get_num_threads()} threads")
    print(f"generated C (1 core):           {c_rate:12.0f} cell updates/s")
    print(f"PyTorch int model, same grid:   {results[1]:12.0f} cell updates/s   C/PyTorch {c_rate / results[1]:6.1f}x")
    print(f"PyTorch int model, 16 grids:    {results[16]:12.0f} cell updates/s   C/PyTorch {c_rate / results[16]:6.1f}x")
    return 0


def main(argv=None):
    ap, sub = cli.tool("python -m hostsim", __doc__)
    r = sub.add_parser("run", help="grow a rule with the generated C; writes a GIF and a PNG strip")
    add_common(r)
    r.add_argument("--steps", type=int, default=300)
    r.add_argument("--out", default="build/hostsim-run/growth.gif", metavar="FILE",
                   help="the growth as a GIF (a strip of frames beside it as .png)")
    r.add_argument("--quiet", action="store_true")
    c = sub.add_parser("check", help="C grid vs PyTorch integer model, every cell, every step")
    add_common(c)
    c.add_argument("--steps", type=int, default=1000)
    c.add_argument("--init", choices=["seed", "random"], default="seed",
                   help="start from the seed cell, or from random states (any rule)")
    c.add_argument("--device", help="PyTorch device for the integer model (default: cuda when present)")
    c.add_argument("--quiet", action="store_true")
    b = sub.add_parser("bench", help="cell updates/s: generated C vs the PyTorch integer model on the CPU")
    add_common(b)
    b.add_argument("--steps", type=int, default=200)
    f = sub.add_parser("fuzz", help="hostile bytes into the firmware's link and command parsers (ASan+UBSan) "
                                    "and the monitor's line parser")
    f.add_argument("--seconds", type=float, default=10.0, help="wall-clock time per parser")
    f.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    try:
        if getattr(args, "device", None):
            args.device = cli.parse_device(args.device)
        if args.cmd == "fuzz":
            from hostsim import fuzz
            if not 0 < args.seconds <= 86400:
                raise UsageError(f"--seconds: expected more than 0, at most 86400, got {args.seconds}")
            return fuzz.main(args.seconds, args.seed)
        return {"run": cmd_run, "check": cmd_check, "bench": cmd_bench}[args.cmd](args)
    except (ModelFileError, UsageError, CompileError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
