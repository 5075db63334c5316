"""Build the twin for a rule (host C, cached by content) and run it."""
import subprocess
from pathlib import Path

from avrsim.build import run_scripted
from codegen.build import render
from hostsim.clib import WARNINGS, CompileError, compiler
from rule.files import REPO, cached

HERE = Path(__file__).resolve().parent
CORE = REPO / "firmware" / "core"
WIRING = REPO / "firmware" / "avr" / "wiring.h"
F_CPU = "16000000UL"   # pio/boards: every board of the grid runs at 16 MHz
AVR_FIRE_CYCLES = 66980  # the AVR kernel's mean cycles per live update of the shipped rule (docs/firmware.md)


def program(rule, source_name="model") -> Path:
    """The twin executable with this rule compiled in (-DCELL_TRACE: the rule's cost and trace hook)."""
    files = render(rule, source_name)
    for path in list(CORE.glob("*.[ch]")) + [WIRING, HERE / "twin.c"]:
        files[path.name] = path.read_text()
    cc = compiler()
    flags = WARNINGS + ["-O2", f"-DF_CPU={F_CPU}", "-DCELL_TRACE", "-D_POSIX_C_SOURCE=200809L"]
    sources = ["twin.c", "node.c", "cell.c", "link.c", "report.c", "nca_rule.c", "nca_common.c", "nca_weights.c"]

    def make(folder: Path, out: str):
        for name, text in files.items():
            (folder / name).write_text(text)
        r = subprocess.run([cc, *flags, "-o", out, *sources], cwd=folder, capture_output=True, text=True)
        if r.returncode != 0:
            raise CompileError(f"compiling the twin in {folder} failed:\n{r.stderr}")

    return cached("twin", (sorted(files.items()), cc, flags), "twin", make)


def run_grid(rule, width: int, height: int, seconds: float, script=(), trace=None, seed: int = 0,
             fire_cycles: int = AVR_FIRE_CYCLES, every_tick: bool = False):
    """As avrsim.build.run_grid, on the twin: [(ms, x, y, line)] and the run's figures. every_tick:
    run the main loop's pass at every tick, even those that cannot do anything (for the tests)."""
    cmd = [str(program(rule)), str(width), str(height), str(seconds), "--seed", str(seed),
           "--fire-cycles", str(fire_cycles)] + (["--every-tick"] if every_tick else [])
    return run_scripted(cmd, script, trace, "twin")
