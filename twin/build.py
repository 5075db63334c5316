"""Build the twin for a rule (host C, cached by content) and run it."""
from pathlib import Path

from avrsim.build import ToolError, firmware_flags, run_scripted
from codegen.build import render, storage
from hostsim.clib import FIRMWARE_CORE, WARNINGS, c_defines, compile_c
from rule import conditions, spec
from rule.files import REPO

HERE = Path(__file__).resolve().parent
CORE = REPO / "firmware" / "core"
WIRING = REPO / "firmware" / "avr" / "wiring.h"
# The AVR kernel's cost of a live update, per multiply-add, by the widest index (python -m avrsim
# cycles, growth states' mean, docs/firmware.md): int8 66,980 cycles for a 64-unit rule's 4,096
# multiply-adds; 4-bit palette indices 155,343 for a 128-unit rule's 8,192; 5-bit ones 174,745
# for a 128-unit lizard's 8,192. Other rules cost in proportion.
AVR_CYCLES_PER_MAC = {8: 66980 / 4096, 4: 155343 / 8192, 5: 174745 / 8192}


def firmware_relays() -> str:
    """Which neighbours relay the diagonals in this firmware (by its link protocol version):
    rule/conditions.py's RELAYS, what the staleness it measures is recorded with."""
    version = c_defines(FIRMWARE_CORE / "link.h")["LINK_VERSION"]
    if version not in conditions.RELAYS_OF_LINK_VERSION:
        raise ToolError(f"link protocol version {version} (firmware/core/link.h): which neighbours relay the "
                        "diagonals is not known; add it to rule/conditions.py's RELAYS_OF_LINK_VERSION")
    return conditions.RELAYS_OF_LINK_VERSION[version]


def fire_cycles(rule) -> int:
    per_mac = AVR_CYCLES_PER_MAC[max(storage(rule).get("bits", (8, 8)))]
    return round(per_mac * (spec.PERCEPTION * rule.hidden + rule.hidden * spec.CHANNELS))


def program(rule, source_name="model") -> Path:
    """The twin executable with this rule compiled in (-DCELL_TRACE: the rule's cost and trace hook)."""
    files = render(rule, source_name)
    for path in list(CORE.glob("*.[ch]")) + [WIRING, HERE / "twin.c", REPO / "avrsim" / "grid_script.h"]:
        files[path.name] = path.read_text()
    f_cpu = next(f for f in firmware_flags() if f.startswith("-DF_CPU="))   # the boards' clock (pio/boards)
    flags = WARNINGS + ["-O2", f_cpu, "-DCELL_TRACE", "-D_POSIX_C_SOURCE=200809L"]
    sources = ["twin.c", "node.c", "cell.c", "link.c", "report.c", "nca_rule.c", "nca_common.c", "nca_weights.c"]
    return compile_c("twin", files, flags, sources, "twin")


def run_grid(rule, width: int, height: int, seconds: float, script=(), trace=None, seed: int = 0,
             every_tick: bool = False):
    """As avrsim.build.run_grid, on the twin: [(ms, x, y, line)] and the run's figures. every_tick:
    run the main loop's pass at every tick, even those that cannot do anything (for the tests)."""
    cmd = [str(program(rule)), str(width), str(height), str(seconds), "--seed", str(seed),
           "--fire-cycles", str(fire_cycles(rule))] + (["--every-tick"] if every_tick else [])
    return run_scripted(cmd, script, trace, "twin")
