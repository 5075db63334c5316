"""The serial monitor: assembling the grid from report lines (garbage, partial lines, silent
boards), the terminal picture, the CLI on a pty and on socket://, and PlatformIO's filter."""
import os
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from monitor import render
from monitor.grid_state import GridState
from rule import files

REPO = str(files.REPO)


def report(x, y, rgba) -> bytes:
    return b"R " + bytes([x, y, *np.asarray(rgba, np.int8).view(np.uint8)]).hex().encode() + b"\n"


def grid_stream(width=4, height=3, seed=0):
    rng = np.random.default_rng(seed)
    want = rng.integers(-128, 128, (height, width, 4)).astype(np.int8)
    stream = b"H nca-cell 2 0123456789abcdef lizard %d %d\n" % (width, height)
    for y in range(height):
        for x in range(width):
            stream += report(x, y, want[y, x])
    return stream, want


def test_reports_assemble_the_grid_and_the_hello_gives_its_size():
    stream, want = grid_stream()
    g = GridState()
    g.feed(stream)
    assert g.size() == (4, 3) and g.hello == ("0123456789abcdef", "lizard")
    assert np.array_equal(g.int8_array(), want) and g.bad_lines == 0
    assert np.allclose(g.rgba_array(), want / 64)


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(0, 400), max_size=30), noise=st.binary(max_size=40))
def test_any_chunking_and_garbage_between_lines_give_the_same_picture(cuts, noise):
    stream, want = grid_stream()
    lines = stream.split(b"\n")
    noisy = b"\n".join(lines[:3] + [noise.replace(b"\n", b"")] + lines[3:])   # a garbage line
    g = GridState()
    points = sorted(set(c % (len(noisy) + 1) for c in cuts))
    for a, b in zip([0] + points, points + [len(noisy)]):
        g.feed(noisy[a:b])
    assert np.array_equal(g.int8_array(), want)


@pytest.mark.parametrize("line", [b"R 0102zz040506", b"R 01020304", b"R ff0000000000", b"S 1 2 3",
                                  b"Q what", b"\xff\xfe\x00garbage", b"R 1e0000000000"])
def test_bad_lines_are_counted_and_ignored(line):
    stream, want = grid_stream()
    g = GridState(4, 3)
    g.feed(stream + line + b"\n")
    assert g.bad_lines == 1 and np.array_equal(g.int8_array(), want)


def test_an_endless_line_is_dropped_and_the_next_lines_still_count():
    g = GridState(2, 1)
    g.feed(b"x" * 10000)
    g.feed(b"\n" + report(1, 0, [64, 0, 0, 64]))
    assert g.bad_lines >= 1 and g.int8_array()[0, 1, 0] == 64


def test_silent_and_missing_boards():
    g = GridState(3, 1, silent_after_s=5)
    g.feed(report(0, 0, [1, 2, 3, 64]), now=100.0)
    g.feed(report(2, 0, [1, 2, 3, 64]), now=104.0)
    assert g.silent(now=106.0) == [(0, 0), (1, 0)]      # (1, 0) never reported, (0, 0) too long ago
    text = render.terminal(g, now=106.0)
    assert text.count("··") == 2 and "\x1b[48;2;" in text


def test_a_lone_board_is_a_one_cell_picture():
    g = GridState()
    state = np.arange(16, dtype=np.int8) * 4
    g.feed(b"S 0010 " + state.tobytes().hex().encode() + b" 0005 0001 ff ff ff\n")
    assert g.size() == (1, 1) and np.array_equal(g.int8_array()[0, 0], state[:4])
    assert "one board: 16 updates, frames 5 good / 1 bad" in render.status(g)


def test_terminal_colours_are_the_png_colours():
    g = GridState(2, 1)
    g.feed(report(0, 0, [64, 0, 0, 64]) + report(1, 0, [0, 0, 0, 0]))
    text = render.terminal(g)
    assert "\x1b[48;2;255;0;0m" in text and "\x1b[48;2;255;255;255m" in text   # red; empty = white
    assert np.array_equal(np.asarray(render.image(g, scale=1)), [[[255, 0, 0], [255, 255, 255]]])


def run_monitor(port: str, *args, timeout=60):
    return subprocess.run([sys.executable, "-m", "monitor", port, "--plain", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO)


def test_monitor_on_a_pty_sends_commands_and_saves_pictures(tmp_path):
    master, slave = os.openpty()
    stream, want = grid_stream(24, 24)
    received = []

    def board():   # a fake gateway: answers after the monitor's first command, with noise
        data = b""
        while b"\n" not in data:
            data += os.read(master, 100)
        received.append(data)
        os.write(master, b"\x00\xffnoise" + stream[:1000])
        time.sleep(0.3)
        os.write(master, stream[1000:])
        time.sleep(1.5)
        received.append(os.read(master, 1000))

    t = threading.Thread(target=board, daemon=True)
    t.start()
    r = run_monitor(os.ttyname(slave), "--grow", "--seconds", "4", "--png", str(tmp_path / "g.png"),
                    "--npz", str(tmp_path / "g.npz"), "--gif", str(tmp_path / "g.gif"))
    t.join(5)
    assert r.returncode == 0, r.stderr
    assert received[0].startswith(b"G 0 0\n") or received[0].startswith(b"H\n")
    sent = b"".join(received)
    assert b"H\n" in sent and b"G 0 0\n" in sent and b"P 12 12\n" in sent      # centre of the 24x24 grid
    saved = np.load(tmp_path / "g.npz")
    assert np.array_equal(saved["rgba"], want) and saved["bad_lines"] == 1
    assert (tmp_path / "g.png").stat().st_size > 0 and (tmp_path / "g.gif").stat().st_size > 0
    assert "24x24 grid: 576 boards reported" in r.stdout and "loss" in r.stdout


def test_monitor_on_a_socket_url(tmp_path):
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stream, want = grid_stream(5, 2)

    def board():
        conn, _ = server.accept()
        conn.sendall(stream[:7])                      # a partial line first
        time.sleep(0.2)
        conn.sendall(stream[7:])
        time.sleep(2)
        conn.close()

    threading.Thread(target=board, daemon=True).start()
    r = run_monitor(f"socket://127.0.0.1:{port}", "--seconds", "1.5", "--npz", str(tmp_path / "s.npz"))
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.load(tmp_path / "s.npz")["rgba"], want)


def test_monitor_says_which_port_it_cannot_open():
    r = run_monitor("/dev/no-such-board", "--seconds", "1")
    assert r.returncode == 2 and "cannot open /dev/no-such-board" in r.stderr and "Traceback" not in r.stderr


def test_platformio_filter_draws_the_grid():
    from platformio.device.monitor.filters.base import load_monitor_filter
    from serial.tools import miniterm
    load_monitor_filter(os.path.join(REPO, "monitor", "filter_nca_grid.py"), {"project_dir": REPO})
    f = miniterm.TRANSFORMATIONS["nca_grid"]()
    stream, _ = grid_stream(4, 3)
    out = f.rx(stream.decode())
    assert out.startswith(render.HOME) and out.count("\x1b[48;2;") == 12 and "4x3 grid: 12 boards" in out
    assert f.rx(report(0, 0, [0, 0, 0, 0]).decode()) == ""      # redraws at most 4 times a second
    assert f.tx("P 1 1\n") == "P 1 1\n"


# --- any byte stream from a port is survivable --------------------------------------

def test_a_board_told_coordinates_outside_the_grid_does_not_stop_the_picture():
    g = GridState()
    g.feed(b"H nca-cell 2 0123456789abcdef lizard 24 24\n")
    g.feed(b"S 0003 " + b"40" * 16 + b" 0001 0000 1e 1e 00\n")     # a board told "G 30 30"
    g.feed(report(30, 30, [1, 2, 3, 64]))                          # and its report
    assert g.bad_lines == 1 and g.int8_array().shape == (1, 1, 4)  # drawn as the lone board it is
    assert "one board: 3 updates" in render.status(g) and render.terminal(g)


@pytest.mark.parametrize("hello", [b"H nca-cell 2 0123456789abcdef lizard -3 24", b"H nca-cell 2 0123456789abcdef lizard 100000 24",
                                   b"H nca-cell 2 0123456789abcdef lizard 0 0", b"H nca-cell 2 0123456789abcdef lizard 256 2"])
def test_hello_lines_with_impossible_grid_sizes_are_counted_not_believed(hello):
    g = GridState()
    g.feed(hello + b"\n" + report(2, 1, [1, 2, 3, 64]))
    assert g.bad_lines == 1 and g.width is None and g.size() == (3, 2)


def test_a_hello_with_spaces_or_escapes_in_the_name_is_read_and_printed_safely():
    g = GridState()
    g.feed(b"H nca-cell 2 0123456789abcdef my \x1b[2Jrule 4 3\nE \x1b]0;owned\x07 bad\n")
    assert (g.width, g.height) == (4, 3) and g.hello[1].startswith("my ") and "\x1b" not in g.hello[1]
    status = render.status(g)
    assert "\x1b" not in status and "\x07" not in status and "board says:" in status


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=60), st.sampled_from([
    b"H nca-cell 2 ab x 24 24\n", b"R 0a0b01020340\n", b"S 0001 " + b"00" * 16 + b" 0 0 ff ff ff\n",
    b"R ffff00000000\n", b"S 1 2\n", b"H nca-cell 2 x y 255 255\n", b"E \xff\n"])), max_size=40))
def test_any_byte_stream_is_survived_and_sizes_stay_what_boards_can_report(chunks):
    g = GridState()
    for c in chunks:
        g.feed(c, now=1.0)
    w, h = g.size()
    assert 1 <= w <= 255 and 1 <= h <= 255 and g.int8_array().shape == (h, w, 4)
    render.terminal(g, now=2.0)
    render.status(g, now=2.0)
    assert len(g.errors) <= 10


def test_hostsim_fuzz_smoke():
    """CI's smoke run of the fuzzers (python -m hostsim fuzz runs them for as long as you like)."""
    r = subprocess.run([sys.executable, "-m", "hostsim", "fuzz", "--seconds", "2"], capture_output=True, text=True,
                       cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no crash, no undefined behaviour" in r.stdout and "no exception, sizes in bounds" in r.stdout
