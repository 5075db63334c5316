"""Build AVR images with exactly the firmware's compiler flags (from platformio.ini), and the
simavr harness; run them."""
import configparser
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np

from codegen.build import render
from rule import spec
from rule.files import REPO, cached

HERE = Path(__file__).resolve().parent
HARNESS_SRC, GRID_SRC = HERE / "harness.c", HERE / "grid.c"
WIRING = REPO / "firmware" / "avr"   # wiring.h: pins, baud rates, trace marks (board.h for the AVR)
LINK_H = REPO / "firmware" / "core" / "link.h"


class ToolError(RuntimeError):
    pass


def need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolError(f"{tool} not found: install Debian's {package} (./setup.sh does)")
    return path


def firmware_flags(env: str = "nano") -> list:
    """-mmcu, F_CPU and build_flags of a platformio.ini env: the single source of AVR flags."""
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(REPO / "platformio.ini")
    section = f"env:{env}"
    flags = shlex.split(ini.get(section, "build_flags", fallback=ini.get("env", "build_flags")))
    board = json.loads((REPO / "pio" / "boards" / f"{ini.get(section, 'board')}.json").read_text())
    return [f"-mmcu={board['build']['mcu']}", f"-DF_CPU={board['build']['f_cpu']}", *flags]


def _run(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise ToolError(f"{' '.join(map(str, cmd))} failed in {cwd}:\n{r.stderr}")


def _simavr_program(src: Path) -> Path:
    """A host program around simavr, built with the boards' wiring and clock (the same headers and
    -DF_CPU the firmware is built with)."""
    need("cc", "gcc")
    if not Path("/usr/include/simavr/sim_avr.h").is_file():
        raise ToolError("simavr headers not found: install Debian's libsimavr-dev and libelf-dev")
    sources = [src, HERE / "simavr_board.h", HERE / "grid_script.h", WIRING / "wiring.h", LINK_H]
    board = firmware_flags()
    f_cpu = next(f for f in board if f.startswith("-DF_CPU="))
    mcu = next(f.split("=", 1)[1] for f in board if f.startswith("-mmcu="))
    flags = ["-std=c99", "-O2", "-pthread", "-Wall", "-Wextra", "-Werror", f_cpu, f'-DBOARD_MCU="{mcu}"',
             f"-I{HERE}", f"-I{WIRING}", f"-I{LINK_H.parent}"]
    return cached("avrsim", ([(p.name, p.read_text()) for p in sources], flags), src.stem, lambda d, out: _run(
        ["cc", *flags, "-o", out, str(src), "-lsimavr", "-lelf"], d))


def harness() -> Path:
    return _simavr_program(HARNESS_SRC)


def grid_program() -> Path:
    return _simavr_program(GRID_SRC)


def run_grid(elf: Path, width: int, height: int, seconds: float, script=(), threads: int = 0, trace=None):
    """W x H emulated boards running `elf`, wired as the real grid. script: (ms, command) with
    the commands of avrsim/grid.c ("x y text" to a board's USB serial, "kill x y", "reset x y",
    "erase x0 y0 x1 y1", "corrupt ppm"). trace: a path for the update records of a -DCELL_TRACE
    build. Returns [(ms, x, y, line)] of what the boards printed, and the run's figures
    (emulated_s, wall_s, threads, corrupted, link_bytes, traced)."""
    cmd = [str(grid_program()), str(elf), str(width), str(height), str(seconds)]
    cmd += ["--threads", str(threads)] if threads else []
    return run_scripted(cmd, script, trace, "emulated grid")


def run_scripted(cmd: list, script, trace, what: str):
    """Run a grid program (avrsim/grid.c or twin/twin.c: the same commands in, the same lines
    out) with a script of (ms, command); returns [(ms, x, y, line)] and the run's figures."""
    text = "".join(f"{ms} {c}\n" for ms, c in sorted(script, key=lambda s: s[0]))
    cmd = cmd + (["--trace", str(trace)] if trace else [])
    r = subprocess.run(cmd, input=text.encode(), capture_output=True, timeout=7200)
    if r.returncode != 0:
        raise ToolError(f"{what} failed: {r.stderr.decode()[-2000:]}")
    lines = []
    for line in r.stdout.decode(errors="replace").splitlines():
        ms, x, y, rest = line.split(" ", 3)
        lines.append((int(ms), int(x), int(y), rest))
    m = re.search(r"(?:grid|twin): ([\d.]+) s emulated in ([\d.]+) s \((\d+) threads\); (\d+) of (\d+) link bytes "
                  r"corrupted; (\d+) updates traced", r.stderr.decode())
    names = ("emulated_s", "wall_s", "threads", "corrupted", "link_bytes", "traced")
    return lines, {k: float(v) for k, v in zip(names, m.groups())}


TRACE_RECORD = np.dtype([("x", "<i2"), ("y", "<i2"), ("ms", "<u4"), ("inputs", "i1", (9, 16)), ("output", "i1", 16)])


def read_trace(path: Path) -> np.ndarray:
    """The update records a traced grid run wrote (grid.c --trace)."""
    return np.fromfile(path, TRACE_RECORD)


AVR_KERNEL = ("nca_rule_avr.c", "nca_kernels.S")


def rule_image(rule, kernel: str = "reference") -> Path:
    """The test firmware with the generated rule, compiled as the firmware compiles it.
    kernel: 'reference' (generated nca_rule.c) or 'avr' (firmware/rule/avr/nca_rule_avr.c + .S)."""
    need("avr-gcc", "gcc-avr")
    files = render(rule, "model")
    files["rule_bench.c"] = (HERE / "rule_bench.c").read_text()
    files.update({name: (WIRING / name).read_text() for name in ("board.h", "wiring.h")})
    if kernel == "avr":
        files.update({name: (REPO / "firmware" / "rule" / "avr" / name).read_text() for name in AVR_KERNEL})
        rule_sources = list(AVR_KERNEL)
    elif kernel == "reference":
        rule_sources = ["nca_rule.c"]
    else:
        raise ValueError(kernel)
    flags = firmware_flags()
    sources = rule_sources + ["nca_common.c", "nca_weights.c", "rule_bench.c"]

    def build(d, out):
        for name, text in files.items():
            (d / name).write_text(text)
        _run(["avr-gcc", *flags, "-I.", "-o", out, *sources, "-Wl,--gc-sections"], d)

    return cached("avrsim", ("rule", kernel, sorted(files.items()), flags), "rule_bench.elf", build)


def symbol(elf: Path, name: str) -> int:
    out = subprocess.run([need("avr-nm", "binutils-avr"), str(elf)], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16) & 0xFFFF  # data addresses carry 0x800000 in the ELF
    raise ToolError(f"{elf}: no symbol {name}")


def run_rule(elf: Path, selves: np.ndarray, nbrs: np.ndarray):
    """Outputs int8 [n, 16] and exact cycle counts [n] of n cell updates on the emulated AVR."""
    n = len(selves)
    cases = np.concatenate([selves.reshape(n, -1), nbrs.reshape(n, -1)], 1).astype(np.int8)
    r = subprocess.run([str(harness()), "rule", str(elf), str(symbol(elf, "bench_io")), str(n)],
                       input=cases.tobytes(), capture_output=True, timeout=600)
    if r.returncode != 0:
        raise ToolError(f"simavr run failed: {r.stderr.decode()}")
    out = np.frombuffer(r.stdout[:n * spec.CHANNELS], np.int8).reshape(n, spec.CHANNELS)
    cycles = np.frombuffer(r.stdout[n * spec.CHANNELS:], np.uint32)
    return out, cycles


def run_firmware(elf: Path, cycles: int, uart_input: str = "", awake: bool = False):
    """Run a firmware image; returns (UART output text, peak stack bytes[, fraction of the
    time not asleep])."""
    if uart_input and not uart_input.endswith("\n"):
        uart_input += "\n"  # the firmware takes commands a line at a time
    bss_end = symbol(elf, "__bss_end")
    r = subprocess.run([str(harness()), "run", str(elf), str(cycles), str(bss_end), uart_input],
                       capture_output=True, timeout=600)
    if r.returncode != 0:
        raise ToolError(f"simavr run failed: {r.stderr.decode()}")
    err = r.stderr.decode()
    peak = int(err.split("stack_peak")[1].split()[0])
    if awake:
        return r.stdout.decode(errors="replace"), peak, int(err.split("awake_permille")[1].split()[0]) / 1000
    return r.stdout.decode(errors="replace"), peak
