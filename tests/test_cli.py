"""One command-line vocabulary across the tools (rule/cli.py): --model, --grid WxH, --elf,
--out FILE / --out-dir DIR, --seconds (wall) vs --emulated-seconds; old spellings still work."""
import re
import subprocess
import sys

import pytest

from rule import cli, files, spec

TOOLS = {"trainer": ["train", "eval", "init", "bench", "bench-recipe", "import"], "codegen": ["build", "prepare"],
         "hostsim": ["run", "check", "bench", "fuzz"],
         "avrsim": ["cycles", "run", "grid", "serve", "upload", "stop", "trace"],
         "twin": ["grid", "staleness", "replay", "acceptance", "bench", "serve", "upload"], "monitor": [None]}


def help_text(tool, sub):
    args = [sys.executable, "-m", tool, *([sub] if sub else []), "--help"]
    r = subprocess.run(args, capture_output=True, text=True, cwd=files.REPO, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("text, want", [("24x24", (24, 24)), (" 3X2 ", (3, 2)), ("1x255", (1, 255))])
def test_parse_grid(text, want):
    assert cli.parse_grid(text) == want


@pytest.mark.parametrize("text", ["24", "0x4", "4x0", "256x4", "-3x4", "24x24x2", "a x b", "", None, "9" * 40 + "x1"])
def test_parse_grid_refuses(text):
    with pytest.raises(cli.UsageError, match=r"--grid: expected WIDTHxHEIGHT .*1\.\.255"):
        cli.parse_grid(text)
    assert cli.parse_grid("65535x2", max_side=65535) == (65535, 2)


def test_every_tool_speaks_the_same_options():
    for tool, subs in TOOLS.items():
        module_doc = __import__(f"{tool}.__main__", fromlist=["x"]).__doc__
        for sub in subs:
            if sub:   # every subcommand is in its module's docstring
                assert re.search(rf"^  {sub} ", module_doc, re.M), (tool, sub)
            text = help_text(tool, sub)
            options = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", text))
            assert not options & {"--size", "--grid-size", "--seconds-emulated"}, (tool, sub, options)
            if "--out" in options:   # --out is a file, folders are --out-dir
                assert re.search(r"--out FILE", text), (tool, sub)
            if "--out-dir" in options:
                assert re.search(r"--out-dir DIR", text), (tool, sub)
            if "--model" in options:
                assert re.search(r"--model FILE", text), (tool, sub)
            if tool == "avrsim" and sub in ("run", "grid", "trace"):
                assert "--emulated-seconds" in options and "--seconds" not in options and "--elf" in options


def test_old_spellings_still_work(tmp_path):
    """Hidden aliases for one release: avrsim --size / --seconds / a positional image, codegen
    build --out, trainer eval MODEL."""
    r = subprocess.run([sys.executable, "-m", "avrsim", "grid", str(tmp_path / "none.elf"), "--size", "3x300",
                        "--seconds", "1"], capture_output=True, text=True, cwd=files.REPO, timeout=60)
    assert r.returncode == 2 and f"--grid: expected WIDTHxHEIGHT like 24x24 (1..{spec.GRID_MAX} each), got '3x300'" in r.stderr
    r = subprocess.run([sys.executable, "-m", "codegen", "build", "--out", str(tmp_path / "gen")],
                       capture_output=True, text=True, cwd=files.REPO, timeout=120)
    assert r.returncode == 0 and (tmp_path / "gen" / "nca_config.h").is_file(), r.stderr
