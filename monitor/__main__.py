"""python -m monitor PORT: the grid's state, live, as a picture in the terminal.

PORT is anything pyserial opens: a board or gateway (/dev/ttyUSB0, COM3), a pty, or the emulated
grid (socket://localhost:4000, see python -m avrsim serve). Lines typed on stdin go to the board.
"""
import argparse
import select
import sys
import time
from pathlib import Path

import numpy as np
import serial

from monitor import render
from monitor.grid_state import GridState
from rule import cli, modelfile

COMMAND_GAP_S = 0.1   # a board takes one command line at a time (firmware/avr/main.c)


def parse_send(text: str):
    at, sep, line = text.partition(":")
    try:
        return float(at), line
    except ValueError:
        raise argparse.ArgumentTypeError(f"--send wants SECONDS:LINE, e.g. '3:P 12 12', got {text!r}")


def main(argv=None) -> int:
    ap = cli.tool("python -m monitor", __doc__, subcommands=False)
    ap.add_argument("port", help="serial port or pyserial URL (socket://host:port, /dev/pts/N, ...)")
    ap.add_argument("--baud", type=int, default=115200)
    cli.add_model(ap, ": the target for the loss, and the grid size if the board does not say")
    cli.add_grid(ap, "what the board says, else the model's")
    ap.add_argument("--grow", action="store_true",
                    help="make the attached board the gateway (at --gateway), and plant the seed in the centre "
                         "board as soon as it has reported (then it knows its coordinates)")
    ap.add_argument("--gateway", type=int, nargs=2, default=[0, 0], metavar=("X", "Y"),
                    help="where the attached board sits in the grid, for --grow (default 0 0)")
    ap.add_argument("--send", type=parse_send, action="append", default=[], metavar="SECONDS:LINE",
                    help="send LINE to the board at that time, e.g. '0:G 0 0', '3:P 12 12', '30:Z 0 12 23 23'")
    ap.add_argument("--seconds", type=float, help="stop after this long, wall-clock (default: Ctrl-C)")
    ap.add_argument("--every", type=float, default=0.25, help="seconds between redraws and GIF frames")
    ap.add_argument("--png", metavar="FILE", help="save the last picture here")
    ap.add_argument("--gif", metavar="FILE", help="save the pictures here as an animation")
    ap.add_argument("--npz", metavar="FILE", help="save the last RGBA picture (int8, state units) and report times here")
    ap.add_argument("--plain", action="store_true", help="no picture, one status line per redraw")
    args = ap.parse_args(argv)

    try:
        rule = modelfile.load(args.model)
    except modelfile.ModelFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        width, height = cli.parse_grid(args.grid) if args.grid else (None, None)
    except cli.UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    sends = [(0.0, "H")] + sorted(args.send)   # H: the board says who it is and the grid's size
    if args.grow:
        sends = sorted(sends + [(0.0, f"G {args.gateway[0]} {args.gateway[1]}")], key=lambda s: s[0])
    plant_pending = args.grow
    try:
        port = serial.serial_for_url(args.port, baudrate=args.baud, timeout=0.05)
    except (serial.SerialException, ValueError) as e:
        print(f"error: cannot open {args.port}: {e}", file=sys.stderr)
        return 2

    grid = GridState(width, height)
    live = sys.stdout.isatty() and not args.plain
    frames, started, next_draw, last_sent = [], time.monotonic(), 0.0, 0.0
    if live:
        sys.stdout.write("\x1b[2J")
    try:
        while args.seconds is None or time.monotonic() - started < args.seconds:
            now = time.monotonic()
            if sends and now - started >= sends[0][0] and now - last_sent >= COMMAND_GAP_S:
                port.write((sends.pop(0)[1] + "\n").encode())
                last_sent = now
            if plant_pending:
                trained = modelfile.grid_size(rule)
                centre = ((grid.width or trained[0]) // 2, (grid.height or trained[1]) // 2)
                if centre in grid.rgba:
                    port.write(f"P {centre[0]} {centre[1]}\n".encode())
                    plant_pending = False
                elif len(grid.rgba) == 1 and now - started > 10:   # a lone board: plant it
                    port.write(b"P\n")
                    plant_pending = False
            if sys.stdin.isatty() and select.select([sys.stdin], [], [], 0)[0]:
                port.write(sys.stdin.readline().strip().encode() + b"\n")   # typed commands
            try:
                grid.feed(port.read(max(1, port.in_waiting)), now)
            except serial.SerialException as e:
                print(f"\nerror: {args.port}: {e}", file=sys.stderr)
                return 1
            if now - started >= next_draw:
                next_draw += args.every
                line = f"{now - started:6.1f} s  {render.status(grid, now, rule.target)}"
                if live:
                    sys.stdout.write(render.HOME + render.terminal(grid, now) + "\n" + line + render.CLEAR_BELOW)
                    sys.stdout.flush()
                elif args.plain:
                    print(line, flush=True)
                if args.gif:
                    frames.append(render.image(grid))
    except KeyboardInterrupt:
        pass
    finally:
        port.close()
    now = time.monotonic()
    print(f"{now - started:6.1f} s  {render.status(grid, now, rule.target)}")
    if args.png:
        Path(args.png).parent.mkdir(parents=True, exist_ok=True)
        render.image(grid).save(args.png)
        print(f"picture: {args.png}")
    if args.gif and frames:
        from rule.pictures import save_gif
        save_gif(frames, Path(args.gif), int(args.every * 1000))
        print(f"animation: {args.gif}")
    if args.npz:
        rgba = grid.int8_array()
        heard = np.full(rgba.shape[:2], np.nan)
        for (x, y), t in grid.heard.items():
            if y < heard.shape[0] and x < heard.shape[1]:
                heard[y, x] = t - started
        np.savez(args.npz, rgba=rgba, heard_s=heard, lines=grid.lines, bad_lines=grid.bad_lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
