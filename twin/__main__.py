"""python -m twin: the grid twin, the firmware's portable core on many host boards (docs/grid.md).

  grid       grow the rule on a twin grid, seeded in the centre; a GIF of the boards' states, the
             loss against the target, the real-time factor
  staleness  how old each neighbour's state is when a cell fires (0, 1, 2+ of its own updates, or
             empty), per orthogonal and diagonal slot: clean, with 10% dead boards, with 1%
             corruption; --out writes them as the trainer's grid conditions
  acceptance the grid's figures from the boards' own lines (grown, 10% dead, 1% corrupted, regrown
             after an erase) beside the integer model at the matching step, fresh and as late
  replay     every rule update of a twin run (kills, resets and erases on the way) replayed
             through the PyTorch integer model: identical or the first difference
  bench      real-time factor of the twin (24x24, 64x64) beside the simavr grid, one core each
  serve      the twin in real time, serving the gateway's USB serial on a TCP port, as
             `python -m avrsim serve` does: watch it with python -m monitor socket://localhost:4000
  upload     what `pio run -e twin -t upload` runs: (re)start a twin of the rule `pio run` built
             (generated/'s manifest), in the background, on port 4001
"""
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from avrsim.build import ToolError, read_trace
from avrsim.cases import replay
from hostsim.clib import CompileError
from rule import cli, modelfile, spec
from rule import conditions as conditions_file
from twin import build, measure

SEED_MS = 1500   # the gateway learns the grid first (G at 1 ms), then the seed is planted


def grow_script(width, height, gateway):
    return [(1, f"{gateway[0]} {gateway[1]} G {gateway[0]} {gateway[1]}"),
            (SEED_MS, f"{gateway[0]} {gateway[1]} P {width // 2} {height // 2}")]


def factor(run) -> str:
    return f"{run['emulated_s']:.0f} s emulated in {run['wall_s']:.2f} s: {run['emulated_s'] / max(run['wall_s'], 1e-3):.0f}x real time"


def cmd_grid(args) -> int:
    from rule.pictures import grid_growth
    rule = modelfile.load(args.model)
    width, height = cli.grid_of(args.grid, rule)
    lines, run = build.run_grid(rule, width, height, args.emulated_seconds,
                                grow_script(width, height, (width // 2, height // 2)), seed=args.seed)
    out = Path(args.out)
    losses = grid_growth(lines, width, height, args.emulated_seconds, args.every_ms, rule.target, out)
    print(f"{width}x{height} twin boards, seed planted at {SEED_MS / 1000:.1f} s: {out}, {out.with_suffix('.png')}")
    for t, loss in losses[:: max(1, len(losses) // 12)] + losses[-1:]:
        print(f"  {t / 1000:6.1f} s  loss vs target {loss:.2e}")
    print(f"  {factor(run)}")
    return 0


def staleness_runs(rule, width, height, seconds, seed=0):
    """{condition: staleness} for the grid growing `rule`: clean, 10% dead boards, 1% corruption."""
    rng = np.random.default_rng(seed)
    gateway = (width // 2, height // 2)   # also where the seed goes: it stays alive
    cells = [(x, y) for y in range(height) for x in range(width) if (x, y) != gateway]
    dead = [cells[i] for i in rng.choice(len(cells), round(0.1 * width * height), replace=False)]
    conditions = {conditions_file.CLEAN: [], conditions_file.DEAD: [(1, f"kill {x} {y}") for x, y in dead],
                  conditions_file.CORRUPT: [(1, "corrupt 10000")]}
    out = {}
    with tempfile.TemporaryDirectory() as d:
        for name, faults in conditions.items():
            trace = Path(d) / "updates.bin"
            build.run_grid(rule, width, height, seconds, grow_script(width, height, gateway) + faults,
                           trace=trace, seed=seed)
            out[name] = measure.staleness(read_trace(trace), build.firmware_relays())
    return out


CONDITION_FAULTS = {conditions_file.CLEAN: "no faults", conditions_file.DEAD: "10% of the boards dead",
                    conditions_file.CORRUPT: "1% of link bytes corrupted"}


def cmd_staleness(args) -> int:
    rule = modelfile.load(args.model)
    width, height = cli.grid_of(args.grid, rule)
    print(f"{width}x{height} twin growing {rule.name} for {args.emulated_seconds:g} s: a neighbour's state when a cell "
          "fires is that neighbour's latest (0), one before (1), older (2+), or an empty slot, in its own updates")
    print(f"  {'':28s} {'slot':10s} {'0':>6s} {'1':>6s} {'2+':>6s} {'empty':>6s}  updates x slots")
    runs = staleness_runs(rule, width, height, args.emulated_seconds, args.seed)
    for name, result in runs.items():
        for kind, r in result.items():
            print(f"  {CONDITION_FAULTS[name]:28s} {kind:10s} " + " ".join(f"{p:6.3f}" for p in r["share"])
                  + f"  {r['count']}")
    if args.out:
        measured = {"by": "python -m twin staleness", "rule": rule.content_hash()[:16], "grid": [width, height],
                    "emulated_seconds": args.emulated_seconds, "seed": args.seed, "faults": CONDITION_FAULTS,
                    "counts": {name: {kind: r["count"] for kind, r in result.items()} for name, result in runs.items()}}
        conditions = {name: {kind: [round(p, 4) for p in r["share"]] for kind, r in result.items()}
                      for name, result in runs.items()}
        for c in conditions.values():   # rounded shares that still add up to 1
            for shares in c.values():
                shares[0] = round(1 - sum(shares[1:]), 4)
        path = conditions_file.save({"format": conditions_file.FORMAT, "version": conditions_file.VERSION,
                                     "measured": measured, "relays": build.firmware_relays(), "conditions": conditions},
                                    args.out)
        print(f"conditions written to {path} (train in them: python -m trainer train --grid-conditions {path})")
    return 0


GROWN_MS, ERASE_MS, REGROWN_MS = 11000, 15000, 27000   # tests/test_grid.py's script (seed at SEED_MS)


def acceptance_runs(rule, width, height, seed) -> tuple:
    """One seed of the grid's scenarios on the twin: the boards' own losses, and the firing interval."""
    target, centre = rule.target, (width // 2, height // 2)
    plant = grow_script(width, height, centre)
    erase = (ERASE_MS, f"{centre[0]} {centre[1]} Z 0 {height // 2} {width - 1} {height - 1}")
    rng = np.random.default_rng(seed)
    cells = [(x, y) for y in range(height) for x in range(width) if (x, y) != centre]
    dead = {cells[i] for i in rng.choice(len(cells), round(0.1 * width * height), replace=False)}
    living = np.array([[(x, y) not in dead for x in range(width)] for y in range(height)])
    with tempfile.TemporaryDirectory() as d:
        trace = Path(d) / "updates.bin"
        clean, _ = build.run_grid(rule, width, height, REGROWN_MS / 1000, plant + [erase], trace=trace, seed=seed)
        interval = measure.firing_interval_ms(read_trace(trace))
    killed, _ = build.run_grid(rule, width, height, GROWN_MS / 1000, plant + [(1, f"kill {x} {y}") for x, y in dead],
                               seed=seed)
    noisy, _ = build.run_grid(rule, width, height, GROWN_MS / 1000, plant + [(1, "corrupt 10000")], seed=seed)
    size = (width, height)
    return [measure.own_loss(clean, size, GROWN_MS, target), measure.own_loss(killed, size, GROWN_MS, target, living),
            measure.own_loss(noisy, size, GROWN_MS, target), measure.own_loss(clean, size, REGROWN_MS, target)], interval


def cmd_acceptance(args) -> int:
    """The grid's figures from the boards' own lines (clean: grown at 11 s, regrown 12 s after
    erasing the bottom half at 15 s; 10% dead; 1% of link bytes corrupted), over several seeds
    (boards' clocks, noise, which boards die), beside the integer model at the matching step: with
    fresh neighbours, and as late as the grid's."""
    from trainer.evaluate import loss_after
    rule = modelfile.load(args.model)
    width, height = cli.grid_of(None, rule)
    if rule.target is None:
        raise modelfile.ModelFileError(args.model, "target", "missing: the figures need the rule's target")
    if not 1 <= args.seeds <= 100 or args.runs < 1:
        raise cli.UsageError(f"--seeds: expected 1..100, got {args.seeds}; --runs: at least 1, got {args.runs}")
    grid = rule.meta.get("grid_conditions") or conditions_file.load(conditions_file.DEFAULT_FILE)
    conds = grid["conditions"]
    relays = build.firmware_relays()   # "as late": the rule's trained-for states, the diagonals this firmware loses
    seeds = range(args.seed, args.seed + args.seeds)
    runs = [acceptance_runs(rule, width, height, seed) for seed in seeds]
    twin = np.array([losses for losses, _ in runs])                      # [seeds, 4]
    interval = float(np.mean([i for _, i in runs]))

    def step(ms):   # a board fires every `interval` ms; at fire rate 0.5 a step fires half the cells
        return round(2 * (ms - SEED_MS) / interval)

    rows = [("grown, 11 s", dict(stop=step(GROWN_MS)), conditions_file.CLEAN),
            ("10% dead, 11 s (living)", dict(stop=step(GROWN_MS), dead=True), conditions_file.DEAD),
            ("1% corrupted, 11 s", dict(stop=step(GROWN_MS)), conditions_file.CORRUPT),
            ("erased at 15 s, regrown 27 s", dict(stop=step(REGROWN_MS), erase_at=step(ERASE_MS)), conditions_file.CLEAN)]
    print(f"{width}x{height} twin running {rule.name}, {len(seeds)} seeds (seed planted at {SEED_MS / 1000:g} s; a board "
          f"fires every {interval:.0f} ms: 11 s is step {step(GROWN_MS)} of the integer model); loss of the boards' own "
          f"states, the integer model's over {args.runs} schedule seeds")
    print(f"  {'':30s} {'twin: mean':>10s} {'(min - max)':>19s} {'int model':>10s} {'as late':>9s}  twin / int model")
    out = {}
    for (name, where, condition), t in zip(rows, twin.T):
        fresh = loss_after(rule, **where, runs=args.runs)
        late = (loss_after(rule, **where, condition=conds.get(condition), runs=args.runs, relays=relays)
                if condition in conds else None)
        out[name] = {"twin": float(t.mean()), "twin_min": float(t.min()), "twin_max": float(t.max()),
                     "integer_model": fresh, "as_late": late, "step": where["stop"]}
        print(f"  {name:30s} {t.mean():10.2e} ({t.min():8.2e} - {t.max():8.2e}) {fresh:10.2e} "
              + (f"{late:9.2e}" if late is not None else f"{'-':>9s}") + f"  {t.mean() / fresh:15.2f}x")
    if args.json:
        print(json.dumps(out))
    return 0


def cmd_replay(args) -> int:
    rule = modelfile.load(args.model)
    width, height = cli.grid_of(args.grid, rule)
    s = args.emulated_seconds
    faults = [(int(s * 300), f"kill {width // 3} {height // 2}"), (int(s * 400), "erase 0 0 {} {}".format(width - 1, height // 2)),
              (int(s * 500), f"reset {width // 2} {height // 2 + 1}"), (int(s * 600), f"{width // 2} {height // 4} P")]
    with tempfile.TemporaryDirectory() as d:
        trace = Path(d) / "updates.bin"
        _, run = build.run_grid(rule, width, height, s, grow_script(width, height, (0, 0)) + faults, trace=trace,
                                seed=args.seed)
        records = read_trace(trace)
    started = time.time()
    same = np.zeros(len(records), bool)
    for i in range(0, len(records), 200_000):
        part = records[i:i + 200_000]
        same[i:i + len(part)] = (replay(rule, part) == part["output"]).all(axis=1)
    alive = int((records["output"][:, spec.ALPHA] > spec.ALIVE_THRESHOLD).sum())
    print(f"{len(records)} rule updates of a {width}x{height} twin in {s:g} s (a kill, an erase, a reset, a second seed; "
          f"{alive} left the cell alive): {int(same.sum())} identical to the PyTorch integer model "
          f"(replayed in {time.time() - started:.1f} s); {factor(run)}")
    if not same.all():
        r = records[int(np.argmin(same))]
        print(f"first difference: board ({r['x']}, {r['y']}) at {r['ms']} ms")
        return 1
    return 0


def cmd_bench(args) -> int:
    """One core each: the twin at 24x24 and 64x64, the simavr grid at 24x24 for a shorter time."""
    rule = modelfile.load(args.model)
    rows = []
    for (w, h), seconds in (((24, 24), 60.0), ((64, 64), 20.0)):
        _, run = build.run_grid(rule, w, h, seconds, grow_script(w, h, (w // 2, h // 2)))
        rows.append((f"twin {w}x{h}", run))
    if not args.no_simavr:
        from avrsim.build import run_grid
        elf = Path(args.elf)
        if not elf.is_file():
            raise ToolError(f"{elf}: no image for the simavr grid (pio run -e emugrid), or --no-simavr")
        _, run = run_grid(elf, 24, 24, args.simavr_seconds, grow_script(24, 24, (12, 12)), threads=1)
        rows.append(("simavr 24x24", run))
    for name, run in rows:
        print(f"  {name:14s} {run['emulated_s']:5.1f} s emulated in {run['wall_s']:6.1f} s on one core: "
              f"{run['emulated_s'] / max(run['wall_s'], 1e-3):8.2f}x real time")
    if not args.no_simavr:
        t, a = rows[0][1], rows[-1][1]
        print(f"  twin / simavr at 24x24: {(t['emulated_s'] / t['wall_s']) / (a['emulated_s'] / a['wall_s']):.0f}x")
    return 0


def cmd_serve(args) -> int:
    from avrsim.serve import serve_program
    rule = modelfile.load(args.model)
    width, height = cli.grid_of(args.grid, rule)
    if not (0 <= args.gateway[0] < width and 0 <= args.gateway[1] < height):
        raise cli.UsageError(f"--gateway: {args.gateway[0]} {args.gateway[1]} is outside the {width}x{height} grid")
    cmd = [str(build.program(rule)), str(width), str(height), "0", "--live", "--seed", str(args.seed),
           "--fire-cycles", str(build.fire_cycles(rule))]
    return serve_program(cmd, f"grid twin: {width}x{height} boards running {rule.name}", args.port, tuple(args.gateway))


def cmd_upload(args) -> int:
    """The rule in generated/ (what pio run built) as a twin grid served in the background."""
    from avrsim.serve import _connect, start_detached
    from codegen import outdir
    from rule.files import BUILD, REPO
    man, problem = outdir.read_manifest(REPO / "generated")
    if man is None:
        raise ToolError(f"generated/: {problem} (run pio run -e twin first)")
    model = (REPO / "generated" / man["model"]["path"]).resolve()
    rule = modelfile.load(model)
    if rule.content_hash() != man["model"]["rule_hash"]:
        raise ToolError(f"{model} changed since generated/ was built from it: run pio run -e twin again")
    if args.grid:
        cli.parse_grid(args.grid)
    conn = _connect(args.port)
    if conn:   # a twin cannot be reflashed in place: stop it, start the new one
        conn.sendall(b"!stop\n")
        conn.close()
        for _ in range(50):
            time.sleep(0.1)
            if not _connect(args.port):
                break
    cmd = [sys.executable, "-m", "twin", "serve", "--model", str(model), "--port", str(args.port)]
    cmd += ["--grid", args.grid] if args.grid else []
    start_detached(cmd, args.port, BUILD / "twin" / "serve.log", f"a grid twin of {rule.name}", wait_s=120)
    return 0


def main(argv=None) -> int:
    ap, sub = cli.tool("python -m twin", __doc__)
    g = sub.add_parser("grid", help="grow the rule on a twin grid: GIF, PNG, loss, speed")
    st = sub.add_parser("staleness", help="neighbour-state age at firing: clean, 10%% dead, 1%% corruption")
    rp = sub.add_parser("replay", help="every rule update of a twin run through the PyTorch integer model")
    for p, seconds in ((g, 20.0), (st, 30.0), (rp, 60.0)):
        cli.add_model(p)
        p.add_argument("--grid", metavar="WxH", help="grid width x height (default: the model's grid)")
        cli.add_emulated_seconds(p, seconds)
        p.add_argument("--seed", type=int, default=0, help="boards' boot counters, clocks and noise")
    ac = sub.add_parser("acceptance", help="the grid's figures (clean, dead, corrupted, regrown) beside the integer model")
    cli.add_model(ac)
    ac.add_argument("--seed", type=int, default=0, help="the first seed: boards' boot counters, clocks, noise, which die")
    ac.add_argument("--seeds", type=int, default=16,
                    help="twin runs of each scenario, one seed each (default 16: over 8, one run with a dead "
                         "board beside the seed moved the dead-boards mean 1.3x)")
    ac.add_argument("--runs", type=int, default=16, help="schedule seeds of the integer model")
    ac.add_argument("--json", action="store_true", help="also print the figures as JSON")
    st.add_argument("--out", metavar="FILE", help="write the measured conditions here (what the trainer trains in, "
                    "e.g. models/grid-conditions.json)")
    g.add_argument("--every-ms", type=int, default=250, help="emulated time between frames")
    g.add_argument("--out", default="build/twin-grid/grid.gif", metavar="FILE",
                   help="the growth as a GIF (a strip of frames beside it as .png)")
    b = sub.add_parser("bench", help="real-time factor: twin 24x24 and 64x64 beside the simavr grid")
    cli.add_model(b)
    b.add_argument("--elf", default=".pio/build/emugrid/program.elf", metavar="FILE", help="image for the simavr grid")
    b.add_argument("--simavr-seconds", type=float, default=2.0, help="emulated time of the simavr run")
    b.add_argument("--no-simavr", action="store_true", help="the twin alone")
    sv = sub.add_parser("serve", help="the twin in real time, the gateway's USB serial on a TCP port")
    cli.add_model(sv)
    sv.add_argument("--grid", metavar="WxH", help="grid width x height (default: the model's grid)")
    sv.add_argument("--port", type=int, default=4000)
    sv.add_argument("--gateway", type=int, nargs=2, default=[0, 0], metavar=("X", "Y"),
                    help="the board whose USB serial is served")
    sv.add_argument("--seed", type=int, default=0, help="boards' boot counters, clocks and noise")
    up = sub.add_parser("upload", help="(re)start a twin of the rule pio run built, in the background")
    up.add_argument("--grid", metavar="WxH", help="grid width x height (default: the model's grid)")
    up.add_argument("--port", type=int, default=4001)
    args = ap.parse_args(argv)
    try:
        if getattr(args, "emulated_seconds", 1) <= 0:
            raise cli.UsageError(f"--emulated-seconds: expected more than 0, got {args.emulated_seconds}")
        return {"grid": cmd_grid, "staleness": cmd_staleness, "replay": cmd_replay, "acceptance": cmd_acceptance,
                "bench": cmd_bench,
                "serve": cmd_serve, "upload": cmd_upload}[args.cmd](args)
    except (modelfile.ModelFileError, cli.UsageError, CompileError, ToolError, conditions_file.ConditionsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
