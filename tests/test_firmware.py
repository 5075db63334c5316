"""`pio run` offline for the Nano, the cell budget, codegen staleness, and the real firmware
image running in simavr (boot line, seed from the host, firings through the rule)."""
import re
import subprocess
import sys

import numpy as np
import pytest

from avrsim.build import run_firmware
from codegen.build import report
from conftest import pio, random_rule
from rule import boardlines, modelfile, spec

@pytest.fixture(scope="module")
def built(project):
    r = pio(project, "run", "-e", "nano")
    return project, r.stdout


def test_offline_build_runs_codegen_and_prints_the_budget(built, shipped_rule):
    project, out = built
    assert "codegen: regenerating generated/ (no generated/ yet: the shipped default rule)" in out
    assert f"rule lizard (sha256 {shipped_rule.content_hash()[:16]})" in out
    assert (project / "generated" / "nca_rule.h").is_file()
    assert (project / ".pio" / "build" / "nano" / "program.hex").is_file()
    budget = dict(re.findall(r"^\s+(flash|RAM|rule working memory)\b.*?(\d+) /\s+(?:\d+) bytes  ok$", out, re.M))
    assert set(budget) == {"flash", "RAM", "rule working memory"}, out[-2000:]
    assert int(budget["flash"]) <= 10240 and int(budget["RAM"]) <= 1536 and int(budget["rule working memory"]) <= 256
    storage = report(shipped_rule).kind
    assert (f"  {shipped_rule.hidden} hidden units, {48 * shipped_rule.hidden + 16 * shipped_rule.hidden} "
            f"multiply-adds per update, {storage} (") in out


def test_a_rule_beyond_the_budget_fails_the_build(built):
    """A rule whose weights do not fit (here: int8 storage, 128 units) stops `pio run`, saying why
    and how a board with more flash takes it (NCA_FLASH_BUDGET, checked against the board's flash)."""
    project, _ = built
    big = random_rule(9, hidden=128)
    assert big.meta.get("palette") is None
    mine = modelfile.save(big, project / "models" / "big.npz")
    try:
        subprocess.run([sys.executable, "-m", "codegen", "build", "--model", "models/big.npz"], cwd=project,
                       check=True, capture_output=True)
        r = pio(project, "run", "-e", "nano", check=False)
        assert r.returncode != 0
        assert re.search(r"flash \(\.text \+ \.data\)\s+1\d{4} /  10240 bytes  OVER BUDGET", r.stdout), r.stdout[-2000:]
        assert "128 hidden units, 8192 multiply-adds per update, int8 weights (" in r.stdout
        assert "this board has 30720: NCA_FLASH_BUDGET=<bytes> pio run builds a larger rule" in r.stdout
        r = pio(project, "run", "-e", "nano", NCA_FLASH_BUDGET="30720")
        assert re.search(r"flash \(\.text \+ \.data\), custom_flash_budget\s+1\d{4} /  30720 bytes  ok", r.stdout)
        for bad in ("30721", "12k", "-1"):
            r = pio(project, "run", "-e", "nano", check=False, NCA_FLASH_BUDGET=bad)
            assert r.returncode != 0
            assert (f"error: custom_flash_budget (NCA_FLASH_BUDGET): expected bytes, 1..30720 (this board's flash), "
                    f"got '{bad}'") in r.stdout, r.stdout[-2000:]
    finally:
        mine.unlink()
        subprocess.run([sys.executable, "-m", "codegen", "build"], cwd=project, check=True, capture_output=True)


def hello_hash(elf) -> str:
    text, _ = run_firmware(elf, 1_000_000)
    return text.split("\n")[0].split()[3]


def test_the_documented_flow_flashes_the_users_rule(built, tmp_path):
    """codegen build --model X, then pio run: the firmware is X (its hello line's rule hash), and
    pio run says so; a changed X is regenerated; a hand-edited generated/ is refused; a
    custom_nca_model that contradicts codegen build is an error naming both."""
    project, _ = built
    elf = project / ".pio" / "build" / "nano" / "program.elf"
    rule = random_rule(7)
    mine = modelfile.save(rule, project / "models" / "mine.npz")
    try:
        r = subprocess.run([sys.executable, "-m", "codegen", "build", "--model", "models/mine.npz"], cwd=project,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        out = pio(project, "run", "-e", "nano").stdout
        assert f"rule test-random-7 (sha256 {rule.content_hash()[:16]})" in out and "regenerating" not in out
        assert hello_hash(elf) == rule.content_hash()[:16]

        retrained = random_rule(8)
        retrained.meta["name"] = "mine-v2"
        modelfile.save(retrained, mine)                  # the user retrains into the same file
        out = pio(project, "run", "-e", "nano").stdout
        assert "changed since generated/ was written" in out and "rule mine-v2" in out
        assert hello_hash(elf) == retrained.content_hash()[:16]

        weights = project / "generated" / "nca_weights.c"
        weights.write_text(weights.read_text().replace("{ ", "{ 1 + ", 1))
        r = pio(project, "run", "-e", "nano", check=False)
        assert r.returncode != 0 and "nca_weights.c" in r.stderr and "edited by hand" in r.stderr
        assert hello_hash(elf) == retrained.content_hash()[:16]   # nothing was flashed or built from it

        subprocess.run([sys.executable, "-m", "codegen", "build", "--model", "models/mine.npz"], cwd=project, check=True,
                       capture_output=True)
        ini = project / "platformio.ini"
        text = ini.read_text()
        try:
            ini.write_text(text.replace("[env:nano]", "[env:nano]\ncustom_nca_model = models/lizard.npz"))
            r = pio(project, "run", "-e", "nano", check=False)
            assert r.returncode != 0 and "custom_nca_model" in r.stderr and "mine-v2" in r.stderr
        finally:
            ini.write_text(text)
    finally:
        mine.unlink()
        subprocess.run([sys.executable, "-m", "codegen", "build"], cwd=project, check=True, capture_output=True)


def test_bad_model_stops_the_build(built):
    project, _ = built
    ini = project / "platformio.ini"
    text = ini.read_text()
    bad = project / "models" / "bad.npz"
    bad.write_bytes(b"not a model")
    try:
        ini.write_text(text.replace("[env:nano]", "[env:nano]\ncustom_nca_model = models/bad.npz"))
        r = pio(project, "run", "-e", "nano", check=False)
        assert r.returncode != 0 and "bad.npz: file: not a readable .npz" in r.stdout + r.stderr
    finally:
        ini.write_text(text)


def test_every_board_env_builds(built):
    project, _ = built
    for env in ("nanonew", "uno"):
        pio(project, "run", "-e", env)


def test_upload_runs_avrdude_with_the_board_settings(built):
    project, _ = built
    r = pio(project, "run", "-v", "-e", "nano", "-t", "upload", "--upload-port", "/dev/null-nca-test", check=False)
    text = r.stdout + r.stderr
    assert "avrdude -p atmega328p -c arduino -b 57600 -D -P /dev/null-nca-test -U flash:w:" in text
    assert "cannot open port /dev/null-nca-test" in text and r.returncode != 0   # no board here


def parse_states(text):
    return [boardlines.parse(line).state for line in text.splitlines() if line.startswith("S ")]


def test_firmware_in_simavr_grows_a_lone_seed_through_the_rule(built, crules_shipped, shipped_rule):
    project, _ = built
    text, stack = run_firmware(project / ".pio" / "build" / "nano" / "program.elf", 3 * 16_000_000, "P")
    assert text.startswith(f"H nca-cell 2 {shipped_rule.content_hash()[:16]} lizard 24 24\n")
    states = parse_states(text)
    assert len(states) >= 8   # 3 s of random waits of 100..355 ms
    want = np.array(spec.SEED_CELL, np.int8)
    assert np.array_equal(states[0], want)   # 'P' planted the seed
    zeros = np.zeros((1, 8, 16), np.int8)    # a lone board: every neighbour reads as empty
    for got in states[1:]:
        want = crules_shipped.fire(want[None], zeros)[0]
        assert np.array_equal(got, want)
    assert 100 < stack < 400


def test_emulated_3x3_grid_links_carry_frames_and_life_spreads(built):
    """Nine boards in simavr wired pin to pin: the software-serial links deliver frames both
    ways with no errors, diagonals included, and the seed planted in the centre spreads."""
    from avrsim.build import run_grid
    project, _ = built
    lines, _ = run_grid(project / ".pio" / "build" / "nano" / "program.elf", 3, 3, 2.0, [(1, "1 1 P")])
    last = {}
    for ms, x, y, s in boardlines.statuses(lines):
        last[(x, y)] = (s.fires, s.state.tobytes(), s.good, s.bad)
    assert len(last) == 9
    for (x, y), (fires, state, good, bad) in last.items():
        assert fires >= 4 and bad == 0
        links = sum(1 for dx, dy in ((0, -1), (1, 0), (0, 1), (-1, 0)) if 0 <= x + dx < 3 and 0 <= y + dy < 3)
        assert good >= 4 * links, (x, y, good)   # frames from every wired side, several times
        alpha = np.frombuffer(state, np.int8)[3]
        assert alpha > 6, (x, y, alpha)          # alive: life reached every board from the centre


def test_avrsim_grid_cli_pictures(built, tmp_path):
    project, _ = built
    out = tmp_path / "g.gif"
    r = subprocess.run([sys.executable, "-m", "avrsim", "grid", "--elf", str(project / ".pio/build/nano/program.elf"),
                        "--grid", "3x2", "--emulated-seconds", "1", "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert out.is_file() and out.with_suffix(".png").is_file() and "most bad frames on one board: 0" in r.stdout


def test_emulated_grid_faults(built):
    """Link corruption is caught by the CRC and counted; a killed board falls silent while the
    others go on; a reset board boots again and rejoins its living neighbours."""
    from avrsim.build import run_grid
    project, _ = built
    script = [(1, "1 1 P"), (1, "corrupt 20000"), (1500, "corrupt 0"), (1500, "kill 2 1"), (2000, "reset 0 0")]
    lines, run = run_grid(project / ".pio" / "build" / "nano" / "program.elf", 3, 3, 4.0, script)
    assert 0.005 < run["corrupted"] / run["link_bytes"] < 0.02     # 2% of the bytes for 1.5 of 4 s
    by_board = {}
    for ms, x, y, line in lines:
        by_board.setdefault((x, y), []).append((ms, line))
    bad = {k: boardlines.parse(v[-1][1]).bad for k, v in by_board.items() if v[-1][1].startswith("S ")}
    assert sum(bad.values()) > 0                                     # corrupted frames were dropped
    assert all(ms <= 1500 + 1 for ms, _ in by_board[(2, 1)])        # killed: silent from then on
    hellos = [ms for ms, line in by_board[(0, 0)] if line.startswith("H ")]
    assert len(hellos) == 2 and hellos[1] >= 2000                    # reset: booted again
    last = boardlines.parse(by_board[(0, 0)][-1][1])
    assert isinstance(last, boardlines.Status) and last.good > 0     # hears its neighbours again
    assert last.state[spec.ALPHA] > spec.ALIVE_THRESHOLD             # and came alive again
    for k in [(1, 1), (1, 2), (0, 1)]:
        assert by_board[k][-1][0] > 3500                             # the others went on


def test_flash_per_source_adds_up(built, shipped_rule):
    """python -m avrsim sizes: every firmware source has its share; the weights' object file is
    exactly what codegen reports for the rule's weights, palettes and biases."""
    from avrsim.sizes import SOURCES, module_sizes, symbol_sizes
    from codegen.build import report, storage
    project, _ = built
    sizes = dict(module_sizes(project))
    assert list(sizes) == SOURCES and all(n > 0 for n in sizes.values())
    assert sizes["generated/nca_weights.c"] == report(shipped_rule).weight_bytes
    symbols = {name: n for name, n, _ in symbol_sizes(project / ".pio" / "build" / "nano" / "program.elf")}
    assert symbols["nca_w1"] == storage(shipped_rule)["w1"].nbytes
