"""python -m avrsim: the rule and the firmware on emulated ATmega328Ps (simavr), one board or a grid.

  cycles  exact cycles per cell update: reference C kernel vs the AVR assembly kernel
  run     one board running a firmware image; prints its USB serial output
  grid    the firmware on an emulated grid, seeded in the centre; a GIF of the boards' states
  serve   the emulated grid, serving the gateway's USB serial on a TCP port (docs/grid.md)
  upload  flash the served grid (pio run -e emugrid -t upload runs this), starting it if needed
  stop    stop the served grid
  trace   a debug build's grid run; every rule update replayed through the PyTorch integer model
  sizes   where the flash goes: each firmware source on its own, and the image's largest symbols
"""
import sys
from pathlib import Path

import numpy as np

from avrsim import build
from rule import boardlines, cli, modelfile, spec


def cmd_cycles(args) -> int:
    """Exact cycles per cell update of each kernel (bench: not a test), with the same inputs."""
    from avrsim.cases import int_model, neighbourhoods_from_growth, random_neighbourhoods
    rule = modelfile.load(args.model)
    macs = spec.PERCEPTION * rule.hidden + rule.hidden * spec.CHANNELS
    sets = {"growth of the rule (alive cells)": neighbourhoods_from_growth(rule),
            "random states (every hidden unit fires)": random_neighbourhoods(300, 0)}
    print(f"{rule.name}: {macs} multiply-adds per update; ATmega328P at 16 MHz (simavr, exact cycles)")
    for kernel in ("reference", "avr"):
        elf = build.rule_image(rule, kernel)
        for name, (selves, nbrs) in sets.items():
            out, cycles = build.run_rule(elf, selves, nbrs)
            same = np.array_equal(out, int_model(rule, selves, nbrs))
            alive = cycles > 1000
            mean, worst = cycles[alive].mean(), cycles.max()
            print(f"  {kernel:9s} {name:40s} mean {mean:8.0f}  max {worst:8d} cycles  "
                  f"{worst / macs:5.1f} cycles/MAC  {worst / 16e3:5.2f} ms  {'== PyTorch' if same else 'DIFFERS'}")
    return 0


def cmd_run(args) -> int:
    out, peak = build.run_firmware(Path(args.elf), int(args.emulated_seconds * 16e6), args.input)
    sys.stdout.write(out)
    print(f"[peak stack {peak} bytes]", file=sys.stderr)
    return 0


def cmd_grid(args) -> int:
    """The firmware on an emulated grid of boards; pictures from the boards' report lines."""
    from rule.pictures import grid_growth
    rule = modelfile.load(args.model)
    width, height = cli.grid_of(args.grid, rule)
    seed_at = (width // 2, height // 2)
    lines, run = build.run_grid(Path(args.elf), width, height, args.emulated_seconds, [(1, f"{seed_at[0]} {seed_at[1]} P")])
    out = Path(args.out)
    losses = grid_growth(lines, width, height, args.emulated_seconds, args.every_ms, rule.target, out)
    bad = max([s.bad for _, _, _, s in boardlines.statuses(lines)] + [0])
    print(f"{width}x{height} emulated boards, {args.emulated_seconds} s, seed at {seed_at}: {out}, {out.with_suffix('.png')}")
    for t, loss in losses[:: max(1, len(losses) // 12)] + losses[-1:]:
        print(f"  {t / 1000:6.1f} s  loss vs target {loss:.2e}")
    print(f"  most bad frames on one board: {bad}")
    print(f"  {run['emulated_s']:.1f} s emulated in {run['wall_s']:.1f} s on {run['threads']:.0f} threads: "
          f"{run['emulated_s'] / run['wall_s']:.3f}x real time")
    return 0


def cmd_serve(args) -> int:
    from avrsim import serve
    width, height = cli.grid_of(args.grid, modelfile.load(args.model))
    return serve.serve(Path(args.elf), width, height, args.port, tuple(args.gateway), args.threads)


def cmd_upload(args) -> int:
    from avrsim import serve
    if args.elf is None:
        raise build.ToolError("upload: which image? --elf FILE")
    if args.grid:
        cli.parse_grid(args.grid)
    return serve.upload(Path(args.elf), args.port, args.grid)


def cmd_stop(args) -> int:
    from avrsim import serve
    return serve.stop(args.port)


def cmd_sizes(args) -> int:
    from avrsim.sizes import module_sizes, symbol_sizes
    print("flash per source, compiled on its own (firmware flags less -flto):")
    for src, n in module_sizes():
        print(f"  {src:40s} {n:6d} bytes")
    elf = Path(args.elf)
    if not elf.is_file():
        print(f"(no {elf}: run pio run for the linked image's symbols)")
        return 0
    print(f"largest symbols of {elf} (after -flto inlining):")
    for name, n, _ in symbol_sizes(elf)[:args.top]:
        print(f"  {name:40s} {n:6d} bytes")
    return 0


def cmd_trace(args) -> int:
    """A debug build (-DCELL_TRACE) grows on the emulated grid; every rule update the boards made
    is replayed through the PyTorch integer model."""
    import tempfile
    from avrsim.cases import replay
    rule = modelfile.load(args.model)
    width, height = cli.grid_of(args.grid, rule)
    with tempfile.TemporaryDirectory() as d:
        trace = Path(d) / "updates.bin"
        _, run = build.run_grid(Path(args.elf), width, height, args.emulated_seconds,
                       [(1, "0 0 G 0 0"), (1500, f"0 0 P {width // 2} {height // 2}")], trace=trace)
        records = build.read_trace(trace)
    if len(records) == 0:
        print("no updates were traced: is this a -DCELL_TRACE build (pio run -e emugrid_debug)?")
        return 1
    want = replay(rule, records)
    same = (want == records["output"]).all(axis=1)
    boards = len(set(zip(records["x"].tolist(), records["y"].tolist())))
    alive = int((records["output"][:, spec.ALPHA] > spec.ALIVE_THRESHOLD).sum())
    print(f"{len(records)} rule updates by {boards} emulated boards in {args.emulated_seconds} s ({alive} left the cell alive): "
          f"{int(same.sum())} identical to the PyTorch integer model")
    if not same.all():
        i = int(np.argmin(same))
        r = records[i]
        print(f"first difference: board ({r['x']}, {r['y']}) at {r['ms']} ms: board {r['output'].tolist()}, "
              f"model {want[i].tolist()}")
        return 1
    return 0


def main(argv=None):
    ap, sub = cli.tool("python -m avrsim", __doc__)
    c = sub.add_parser("cycles", help="cycles per cell update: reference C vs AVR kernel")
    cli.add_model(c)
    r = sub.add_parser("run", help="run a firmware image; print its USB serial output")
    cli.add_elf(r, ".pio/build/nano/program.elf")
    cli.add_emulated_seconds(r, 2.0)
    r.add_argument("--input", default="P", help="bytes sent on its USB serial after 1 ms (P = plant seed)")
    g = sub.add_parser("grid", help="the firmware on an emulated grid of boards, seeded in the centre")
    cli.add_elf(g, ".pio/build/nano/program.elf")
    cli.add_model(g, ", for the grid size and the target")
    cli.add_grid(g)
    cli.add_emulated_seconds(g, 10.0)
    g.add_argument("--every-ms", type=int, default=250, help="emulated time between frames")
    g.add_argument("--out", default="build/avrsim-grid/grid.gif", metavar="FILE",
                   help="the growth as a GIF (a strip of frames beside it as .png)")
    sv = sub.add_parser("serve", help="run the emulated grid, serving the gateway's USB serial on a TCP port")
    cli.add_elf(sv, "build/emugrid/firmware.elf", "image (pio run -e emugrid -t upload puts it here)")
    cli.add_model(sv, ", for the grid size")
    cli.add_grid(sv)
    sv.add_argument("--port", type=int, default=4000)
    sv.add_argument("--gateway", type=int, nargs=2, default=[0, 0], metavar=("X", "Y"),
                    help="the board whose USB serial is served")
    sv.add_argument("--threads", type=int, default=0, help="default: one per core (100 boards each at least)")
    u = sub.add_parser("upload", help="flash the emulated grid (pio run -e emugrid -t upload runs this)")
    cli.add_elf(u, None)
    u.add_argument("--port", type=int, default=4000)
    cli.add_grid(u, "the model's grid, if this starts the grid")
    st = sub.add_parser("stop", help="stop the emulated grid")
    st.add_argument("--port", type=int, default=4000)
    sz = sub.add_parser("sizes", help="where the flash goes: per source and per symbol")
    cli.add_elf(sz, ".pio/build/nano/program.elf", "the linked image (pio run)")
    sz.add_argument("--top", type=int, default=25, help="symbols to list")
    t = sub.add_parser("trace", help="replay every rule update of a debug build's grid run through PyTorch")
    cli.add_elf(t, ".pio/build/emugrid_debug/program.elf")
    cli.add_model(t)
    cli.add_grid(t)
    cli.add_emulated_seconds(t, 3.0)
    args = cli.resolve(ap.parse_args(argv))
    try:
        return {"cycles": cmd_cycles, "run": cmd_run, "grid": cmd_grid, "serve": cmd_serve, "upload": cmd_upload, "sizes": cmd_sizes,
                "stop": cmd_stop, "trace": cmd_trace}[args.cmd](args)
    except (build.ToolError, modelfile.ModelFileError, cli.UsageError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
