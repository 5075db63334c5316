"""The cell's budget for a firmware ELF, printed by every `pio run` (and checked by the tests):
flash <= 10,240 bytes (or the user's custom_flash_budget, up to the board's flash); static RAM +
measured peak stack <= 1,536 bytes (of the ATmega328P's 2,048: a quarter stays free); the rule's
working memory <= 256 bytes. The stack is measured by running the firmware in simavr with a seed
planted, so the rule runs with the link interrupts going."""
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # PlatformIO runs this file by path
from rule.files import REPO  # noqa: E402

FLASH_MAX, RAM_MAX, RULE_RAM_MAX = 10240, 1536, 256


def sections(elf: str) -> dict:
    out = subprocess.run(["avr-size", "-A", "-d", elf], capture_output=True, text=True, check=True).stdout
    return {p[0]: int(p[1]) for p in (line.split() for line in out.splitlines()) if len(p) >= 2 and p[1].isdigit()}


def measure(elf: str) -> dict:
    from avrsim.build import run_firmware

    s = sections(elf)
    flash = s.get(".text", 0) + s.get(".data", 0)
    static = s.get(".data", 0) + s.get(".bss", 0)
    _, stack = run_firmware(Path(elf), 16_000_000, "P")  # 1 s with a planted seed: the rule runs
    return {"flash": flash, "static_ram": static, "stack_peak": stack, "ram": static + stack}


def built_rule():
    """(which rule generated/ held for this build, codegen's report of it or None)."""
    from codegen import outdir
    from codegen.build import report
    from rule import modelfile
    man, problem = outdir.read_manifest(REPO / "generated")
    if man is None:
        return f"unknown ({problem})", None
    name = f"{man['model']['name']} (sha256 {man['model']['rule_hash'][:16]})"
    try:
        rule = modelfile.load(outdir.model_path(REPO / "generated", man))
    except (OSError, ValueError):
        return name, None
    return name, report(rule) if rule.content_hash() == man["model"]["rule_hash"] else None


def flash_limit(option: str, board_flash: int) -> int:
    """The cell's 10,240 bytes, or the user's custom_flash_budget (platformio.ini, or the
    NCA_FLASH_BUDGET variable) for boards with room for a larger rule, up to the board's flash."""
    option = option.strip()
    if not option:
        return FLASH_MAX
    if not option.isdigit() or not 1 <= int(option) <= board_flash:
        raise ValueError(f"custom_flash_budget (NCA_FLASH_BUDGET): expected bytes, 1..{board_flash} "
                         f"(this board's flash), got {option!r:.40}")
    return int(option)


def main(elf: str, flash_option: str = "", board_flash: int = FLASH_MAX) -> int:
    from codegen.build import RULE_RAM
    try:
        flash_max = flash_limit(flash_option, board_flash)
    except ValueError as e:
        print(f"error: {e}")
        return 2
    m = measure(elf)
    name, rep = built_rule()
    rows = [("flash (.text + .data)" + (", custom_flash_budget" if flash_max != FLASH_MAX else ""),
             m["flash"], flash_max),
            (f"RAM: static {m['static_ram']} + measured peak stack {m['stack_peak']}", m["ram"], RAM_MAX),
            ("rule working memory (state, 8 neighbours, activations)", RULE_RAM, RULE_RAM_MAX)]
    ok = True
    print(f"cell budget of rule {name}:")
    if rep is not None:
        print(f"  {rep.hidden} hidden units, {rep.macs} multiply-adds per update, {rep.kind} "
              f"({rep.weight_bytes} bytes)")
    for name, used, limit in rows:
        ok &= used <= limit
        print(f"  {name:58s} {used:6d} / {limit:6d} bytes  {'ok' if used <= limit else 'OVER BUDGET'}")
    if m["flash"] > flash_max and flash_max == FLASH_MAX < board_flash:   # the cell's budget, a bigger board
        print(f"  ({FLASH_MAX} bytes is the cell's flash, the article's ~10 KB; this board has {board_flash}: "
              "NCA_FLASH_BUDGET=<bytes> pio run builds a larger rule for it)")
    return 0 if ok else 1


if __name__ == "__main__":
    elf, flash_option, board_flash = sys.argv[1:4]   # pio/platform/builder/main.py passes all three
    sys.exit(main(elf, flash_option, int(board_flash)))
