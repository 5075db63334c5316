"""Trust: a model file is data, never code; hostile and broken inputs get `error: ...` and
rc 2, never a traceback, an allocation of gigabytes, or C that does what a file says."""
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zipfile
import zlib

import numpy as np
import pytest

from codegen import outdir
from codegen.build import FILES, build, render
from conftest import random_rule
from hostsim import clib
from rule import files, modelfile
from rule.modelfile import ModelFileError
from rule.plaintext import plain

REPO = str(files.REPO)
MARKER = "/tmp/nca-cells-injected-code-ran"
# C that, if it ever got out of a string or comment, would run inside `hostsim check`
INJECT = ('x" ;\n__attribute__((constructor)) static void pwn(void) { __builtin_abort(); }\n'
          f'static const char *m = "{MARKER}" */ ??/')


def cli(*args, timeout=120):
    r = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=REPO, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def with_meta(src, path, **changes):
    """A copy of model file `src` with meta fields changed (None: removed), written as a user could."""
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes())
    for k, v in changes.items():
        if v is None:
            meta.pop(k, None)
        else:
            meta[k] = v
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, **arrays)
    return path


@pytest.fixture
def good(tmp_path):
    return modelfile.save(random_rule(2), tmp_path / "good.npz")


# --- 1. names ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [INJECT, 'a"b', "a\nb", "*/", "a b", "", "x" * 33, "é", "??/", 7, None])
def test_hostile_or_odd_names_are_refused_on_load(tmp_path, good, name):
    path = with_meta(good, tmp_path / "evil.npz", name=name if name is not None else "placeholder")
    if name is None:  # JSON null
        raw = json.loads(np.load(path)["meta"].tobytes())
        raw["name"] = None
        arrays = dict(np.load(path))
        arrays["meta"] = np.frombuffer(json.dumps(raw).encode(), np.uint8)
        np.savez(path, **arrays)
    with pytest.raises(ModelFileError) as e:
        modelfile.load(path)
    assert e.value.field == "meta.name"


def test_an_injecting_model_file_is_refused_by_hostsim_and_runs_nothing(tmp_path, good):
    path = with_meta(good, tmp_path / "evil.npz", name=INJECT)
    code, out, err = cli("hostsim", "check", "--model", str(path), "--steps", "2", "--quiet")
    assert code == 2 and "meta.name" in err and "Traceback" not in err
    code, out, err = cli("codegen", "build", "--model", str(path), "--out", str(tmp_path / "gen"))
    assert code == 2 and "meta.name" in err and not (tmp_path / "gen").exists()


def test_even_an_unvalidated_hostile_name_and_file_name_stay_inside_strings_and_comments(tmp_path):
    """Defence in depth: every template value passes through the one escaping function, so C
    built from a rule that skipped validation still compiles (-Werror) and runs nothing."""
    rule = random_rule(3)
    rule.meta["name"] = INJECT
    files = render(rule, 'evil*/\n#error no".npz')
    for name, text in files.items():
        banner = text.splitlines()[:3]
        assert text.index("*/") == len("\n".join(banner)) - 2, name     # the banner ends where it should
        assert "#error no" not in text and "??/" not in text and text.count("/*") == text.count("*/"), name
    config = files["nca_config.h"]
    line = next(l for l in config.splitlines() if l.startswith("#define NCA_MODEL_NAME"))
    assert line.count('"') == 2 and "\\" not in line
    # and it compiles and runs, with the rule intact
    crule = clib.CRule(rule, 'evil*/\n.npz')
    assert crule.fire(np.zeros((1, 16), np.int8), np.zeros((1, 8, 16), np.int8)).shape == (1, 16)
    assert not os.path.exists(MARKER)


def test_plain_keeps_safe_text_and_neutralises_the_rest():
    assert plain("lizard-2_v1.0") == "lizard-2_v1.0"
    for bad in ['"', "\\", "*/", "/*", "\n", "\r", "\x1b[2J", "??/", "é", "\x00"]:
        out = plain("a" + bad + "b")
        assert out.startswith("a") and out.endswith("b") and all(ch not in out for ch in '"\\/*\n\r\x1b?\x00é')
    assert len(plain("x" * 1000, 40)) == 40


# --- 2. grid -----------------------------------------------------------------------------------

@pytest.mark.parametrize("grid", ["24x24", 24, [0, 24], [-1, 24], [10 ** 6, 24], [24], [24, 24, 1], [True, 24],
                                  [256, 24], [24.0, 24], {"w": 24}, [23, 24]])
def test_bad_grids_are_refused_on_load(tmp_path, good, grid):
    rule = modelfile.load(good)
    rule.target = np.zeros((24, 24, 4), np.float32)
    p = modelfile.save(rule, tmp_path / "t.npz")
    path = with_meta(p, tmp_path / "grid.npz", grid=grid)
    with pytest.raises(ModelFileError) as e:
        modelfile.load(path)
    assert e.value.field == "meta.grid"


def test_a_good_grid_reaches_the_c(tmp_path, good):
    path = with_meta(good, tmp_path / "g.npz", grid=[31, 7])
    files = render(modelfile.load(path), "g.npz")
    assert "#define NCA_GRID_WIDTH 31" in files["nca_config.h"] and "#define NCA_GRID_HEIGHT 7" in files["nca_config.h"]


# --- 6. tracebacks -> errors -------------------------------------------------------------------

def npy_bytes(header: dict, data: bytes = b"") -> bytes:
    h = repr(header).encode()
    h += b" " * (63 - (10 + len(h)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + data


def zip_with(path, members: dict):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def bad_model_files(tmp_path, good):
    raw = zipfile.ZipFile(good)
    real = {n: raw.read(n) for n in raw.namelist()}
    np.save(tmp_path / "plain.npy", np.zeros(3))
    (tmp_path / "plain.npz").write_bytes((tmp_path / "plain.npy").read_bytes())
    deep = "[" * 100000 + "]" * 100000
    return {
        "a plain .npy renamed .npz": (tmp_path / "plain.npz", "file"),
        "members without .npy": (zip_with(tmp_path / "nonpy.npz", {k[:-4]: v for k, v in real.items()}), "w1"),
        "meta nested 100,000 deep": (zip_with(tmp_path / "deep.npz", dict(real, **{
            "meta.npy": npy_bytes({"descr": "|u1", "fortran_order": False, "shape": (len(deep),)}, deep.encode())})),
            "meta"),
        "bad .npy header": (zip_with(tmp_path / "hdr.npz", dict(real, **{"w1.npy": b"\x93NUMPY\x01\x00\x10\x00{'descr': oops"})), "w1"),
        "huge header": (zip_with(tmp_path / "huge.npz", dict(real, **{
            "w1.npy": npy_bytes({"descr": "|i1", "fortran_order": False, "shape": (10 ** 12, 48)})})), "w1"),
        "lying header": (zip_with(tmp_path / "lie.npz", dict(real, **{
            "w1.npy": npy_bytes({"descr": "|i1", "fortran_order": False, "shape": (24, 48)}, b"\x01" * 10)})), "w1"),
        "object array": (zip_with(tmp_path / "obj.npz", dict(real, **{
            "w1.npy": npy_bytes({"descr": "|O", "fortran_order": False, "shape": (1,)}, b"\x80\x04N.")})), "w1"),
        "unknown member": (zip_with(tmp_path / "extra.npz", dict(real, **{"evil.npy": real["b2.npy"]})), "evil"),
        "truncated": ((tmp_path / "trunc.npz").write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2])
                      and tmp_path / "trunc.npz", "file"),
    }


def test_broken_model_files_are_errors_naming_the_field(tmp_path, good):
    for case, (path, field) in bad_model_files(tmp_path, good).items():
        with pytest.raises(ModelFileError) as e:
            modelfile.load(path)
        assert e.value.field == field, (case, str(e.value))


def test_broken_model_files_on_the_command_line(tmp_path, good):
    cases = bad_model_files(tmp_path, good)
    for case in ("a plain .npy renamed .npz", "members without .npy", "meta nested 100,000 deep", "huge header"):
        code, out, err = cli("trainer", "eval", "--model", str(cases[case][0]))
        assert code == 2 and err.startswith("error: ") and "Traceback" not in err, (case, err[-500:])


def png_claiming(path, width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 100))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("args, words", [
    (["hostsim", "check", "--grid", "65535x65535"], "GiB"),
    (["hostsim", "bench", "--steps", "0"], "--steps"),
    (["hostsim", "check", "--steps", "-1"], "--steps"),
    (["trainer", "eval", "--runs", "0"], "--runs"),
    (["trainer", "eval", "--runs", "-1"], "--runs"),
    (["trainer", "train", "--target", "U+110000", "--out-dir", "{tmp}/r"], "U+10FFFF"),
    (["trainer", "train", "--target", "{tmp}/bomb.png", "--out-dir", "{tmp}/r"], "too large"),
    (["trainer", "train", "--hidden", "0", "--out-dir", "{tmp}/r"], "hidden"),
    (["trainer", "train", "--tiny", "--name", "my rule", "--out-dir", "{tmp}/r"], "name"),
    (["trainer", "init", "--out", "{tmp}/i.npz", "--seed", "1", "--hidden", "0"], "--hidden"),
    (["trainer", "eval", "--device", "gpu0"], "--device: expected cpu, cuda or cuda:N"),
    (["trainer", "polish", "--device", "foo", "--out", "{tmp}/p.npz"], "--device"),
    (["trainer", "train", "--tiny", "--device", "cuda:99", "--out-dir", "{tmp}/r"], "CUDA device(s)"),
    (["hostsim", "check", "--device", "cuda:99"], "CUDA device(s)"),
    (["hostsim", "check", "--device", "cpu;rm"], "--device"),
])
def test_bad_command_lines_are_errors_not_tracebacks(tmp_path, args, words):
    png_claiming(tmp_path / "bomb.png", 30000, 30000)
    t0 = time.time()
    code, out, err = cli(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert code == 2 and err.startswith("error: ") and words in err and "Traceback" not in err, err[-800:]
    assert time.time() - t0 < 60 and not (tmp_path / "r" / "checkpoint.npz").exists()


def test_a_damaged_checkpoint_is_reported_kept_and_restart_sets_it_aside(tmp_path):
    run = ["trainer", "train", "--tiny", "--float-iters", "2", "--qat-iters", "1", "--no-eval", "--quiet",
           "--out-dir", str(tmp_path / "run")]
    code, out, err = cli(*run, timeout=300)
    assert code == 0, err[-2000:]
    ckpt = tmp_path / "run" / "checkpoint.npz"
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])
    code, out, err = cli(*run, timeout=300)
    assert code == 2 and "damaged" in err and "--restart" in err and "Traceback" not in err
    assert ckpt.read_bytes() == data[: len(data) // 2]           # left as it was
    code, out, err = cli(*run, "--restart", timeout=300)
    assert code == 0 and (tmp_path / "run" / "checkpoint.npz.old").read_bytes() == data[: len(data) // 2]
    assert modelfile.load(tmp_path / "run" / "model.npz").hidden == 32


# --- 4. the generated set is replaced as one --------------------------------------------------

def test_generated_files_are_0644_and_listed_in_the_manifest(tmp_path):
    old = os.umask(0o022)
    try:
        out, rule, _ = build(modelfile.DEFAULT_MODEL, tmp_path / "gen")
    finally:
        os.umask(old)
    for name in list(FILES) + [outdir.MANIFEST]:
        assert (out / name).stat().st_mode & 0o777 == 0o644, name
    man, problem = outdir.read_manifest(out)
    assert problem is None and man["model"]["rule_hash"] == rule.content_hash() and set(man["files"]) == set(FILES)


def test_an_interrupted_build_leaves_the_old_set_whole_and_no_staging(tmp_path, monkeypatch, good):
    out = tmp_path / "gen"
    build(modelfile.DEFAULT_MODEL, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real, calls = outdir._write, []

    def dies_on_the_fourth(path, text):
        calls.append(path)
        if len(calls) == 4:
            raise KeyboardInterrupt
        real(path, text)

    monkeypatch.setattr(outdir, "_write", dies_on_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        build(good, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not list(tmp_path.glob(".gen*"))


def test_sigterm_during_codegen_build_leaves_one_whole_set(tmp_path, good):
    out = tmp_path / "gen"
    build(modelfile.DEFAULT_MODEL, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    slow = ("import time, sys; import codegen.outdir as o; w = o._write\n"
            "def slow(p, t):\n    w(p, t); print('wrote', flush=True); time.sleep(0.3)\n"
            "o._write = slow\nfrom codegen.__main__ import main\n"
            f"sys.exit(main(['build', '--model', {str(good)!r}, '--out', {str(out)!r}]))")
    p = subprocess.Popen([sys.executable, "-c", slow], cwd=REPO, stdout=subprocess.PIPE, text=True)
    for _ in range(3):
        p.stdout.readline()
    p.send_signal(signal.SIGTERM)
    assert p.wait(30) == 143
    assert {q.name: q.read_bytes() for q in out.iterdir()} == before
    assert not list(tmp_path.glob(".gen*"))


def test_a_killed_builds_staging_folder_is_removed_by_the_next(tmp_path):
    out = tmp_path / "gen"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".gen.staging-{dead.stdout.strip()}-abc"
    stale.mkdir()
    (stale / "nca_rule.c").write_text("half")
    build(modelfile.DEFAULT_MODEL, out)
    assert not stale.exists() and outdir.read_manifest(out)[1] is None


def test_codegen_refuses_to_replace_a_folder_of_other_files(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("my notes")
    code, out, err = cli("codegen", "build", "--out", str(tmp_path / "mine"))
    assert code == 2 and "notes.txt" in err and (tmp_path / "mine" / "notes.txt").read_text() == "my notes"


def test_a_hand_edited_set_is_recognised(tmp_path):
    out, _, _ = build(modelfile.DEFAULT_MODEL, tmp_path / "gen")
    (out / "nca_weights.c").write_text((out / "nca_weights.c").read_text().replace("{ ", "{ 1 + ", 1))
    man, problem = outdir.read_manifest(out)
    assert "nca_weights.c" in problem and "edited" in problem
