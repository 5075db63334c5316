"""The command-line vocabulary every tool shares (trainer, codegen, hostsim, avrsim, monitor):
  --model FILE     a model file (default: the shipped rule)
  --grid WxH       a grid's width and height in cells / boards
  --elf FILE       a firmware image
  --out FILE       always a file; folders are --out-dir DIR
  --seconds S      wall-clock time; emulated time is --emulated-seconds S
Old spellings stay as hidden aliases for one release (alias())."""
import argparse
import re

from rule import modelfile, spec


class UsageError(ValueError):
    """A bad command-line value; the message names the option."""


def parse_grid(text: str, option: str = "--grid", max_side: int = spec.GRID_MAX) -> tuple[int, int]:
    """'24x24' -> (24, 24); each side 1..max_side (boards: a coordinate is one byte)."""
    m = re.fullmatch(r"\s*(\d{1,6})\s*[xX]\s*(\d{1,6})\s*", text or "")
    if not m or not (1 <= int(m[1]) <= max_side and 1 <= int(m[2]) <= max_side):
        raise UsageError(f"{option}: expected WIDTHxHEIGHT like 24x24 (1..{max_side} each), got {text!r}")
    return int(m[1]), int(m[2])


def at_least_one(option: str, value: int, unit: str = "") -> int:
    """A count option (--runs, --threads, --sweeps...) that must be 1 or more."""
    if value < 1:
        raise UsageError(f"{option}: expected at least 1{unit}, got {value}")
    return value


def parse_device(text: str) -> str:
    """--device: cpu, cuda or cuda:N, and only a CUDA device this machine has (PyTorch's own
    error for a bad name is a stack trace from deep inside)."""
    m = re.fullmatch(r"\s*(cpu|cuda(?::(\d{1,2}))?)\s*", text or "")
    if not m:
        raise UsageError(f"--device: expected cpu, cuda or cuda:N, got {text!r:.60}")
    if m[1].startswith("cuda"):
        import torch
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if int(m[2] or 0) >= count:
            raise UsageError(f"--device: {m[1]} asked for, this machine has {count} CUDA device(s); use cpu")
    return m[1]


def grid_of(text: str | None, rule, max_side: int = spec.GRID_MAX) -> tuple[int, int]:
    """--grid if given, else the grid the rule was trained for."""
    return parse_grid(text, max_side=max_side) if text else modelfile.grid_size(rule)


def add_model(p: argparse.ArgumentParser, what: str = "") -> None:
    p.add_argument("--model", default=str(modelfile.DEFAULT_MODEL), metavar="FILE",
                   help=f"model file{what} (default: the shipped rule)")


def add_grid(p: argparse.ArgumentParser, default: str = "the model's grid") -> None:
    p.add_argument("--grid", metavar="WxH", help=f"grid width x height (default: {default})")
    alias(p, "--size", "grid")


def add_emulated_seconds(p: argparse.ArgumentParser, default: float) -> None:
    p.add_argument("--emulated-seconds", type=float, default=default, metavar="S",
                   help=f"emulated time (default {default:g})")
    alias(p, "--seconds", "emulated_seconds", type=float)


def alias(p: argparse.ArgumentParser, old: str, dest: str, **kw) -> None:
    """An old spelling of an option, hidden from --help, kept for one release."""
    p.add_argument(old, dest=dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kw)


def add_elf(p: argparse.ArgumentParser, default: str | None, what: str = "firmware image") -> None:
    """--elf FILE; a positional FILE (the old spelling) is still taken, hidden from --help."""
    p.add_argument("--elf", default=default, metavar="FILE",
                   help=what + (f" (default: {default})" if default else ""))
    p.add_argument("elf_positional", nargs="?", help=argparse.SUPPRESS)


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    """After parse_args: a positional image or model (old spelling) wins over the default."""
    for name in ("elf", "model"):
        old = getattr(args, name + "_positional", None)
        if old is not None:
            setattr(args, name, old)
    return args


def tool(prog: str, doc: str, subcommands: bool = True):
    """A tool's parser, its module docstring as the description (every subcommand listed there);
    (parser, subparsers) when it has subcommands."""
    ap = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    return (ap, ap.add_subparsers(dest="cmd", required=True)) if subcommands else ap
