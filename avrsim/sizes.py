"""Where the cell's flash goes: every firmware source compiled on its own with the firmware's
flags less -flto (so each keeps its own functions; the linked image then inlines across them),
and the linked image's largest symbols. `python -m avrsim sizes`; the table is in docs/firmware.md."""
import subprocess
import tempfile
from pathlib import Path

from avrsim.build import firmware_flags, need
from rule.files import REPO

SOURCES = ["firmware/core/node.c", "firmware/core/cell.c", "firmware/core/link.c", "firmware/core/report.c",
           "firmware/avr/main.c", "firmware/avr/links.S", "firmware/rule/avr/nca_rule_avr.c",
           "firmware/rule/avr/nca_kernels.S", "generated/nca_common.c", "generated/nca_weights.c"]


def module_sizes(root: Path = REPO) -> list:
    """[(source, flash bytes)]: .text + .data of each source's object file."""
    need("avr-gcc", "gcc-avr")
    flags = [f for f in firmware_flags() if f not in ("-flto", "-mrelax")]
    out = []
    with tempfile.TemporaryDirectory() as d:
        for src in SOURCES:
            obj = Path(d) / (Path(src).name + ".o")
            subprocess.run(["avr-gcc", *flags, "-I" + str(root / "generated"), "-I" + str(root / "firmware/core"),
                            "-c", str(root / src), "-o", str(obj)], check=True, capture_output=True, text=True,
                           cwd=root)   # the firmware's own -Igenerated is relative: root's, not the caller's
            sizes = subprocess.run(["avr-size", "-A", "-d", str(obj)], check=True, capture_output=True,
                                   text=True).stdout
            flash = sum(int(p[1]) for p in (line.split() for line in sizes.splitlines())
                        if len(p) >= 2 and p[1].isdigit() and (p[0].startswith(".text") or p[0].startswith(".data")
                                                               or p[0].startswith(".progmem") or p[0].startswith(".rodata")))
            out.append((src, flash))
    return out


def symbol_sizes(elf: Path) -> list:
    """[(symbol, bytes, nm type)] of the linked image's flash, largest first."""
    text = subprocess.run(["avr-nm", "--size-sort", "-S", "-t", "d", str(elf)], check=True, capture_output=True,
                          text=True).stdout
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2].lower() in "tdr" and int(parts[0]) < 0x800000:  # flash, not RAM
            rows.append((parts[3], int(parts[1]), parts[2]))
    return sorted(rows, key=lambda r: -r[1])
