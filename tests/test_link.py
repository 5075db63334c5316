"""The firmware's portable core on the host: framing, CRC, bad bytes, timeouts, diagonal relays,
firing through the generated rule, coordinates, routes, reports and host commands (built with
-fsanitize=undefined)."""
import ctypes

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from hostsim import clib
from rule import spec

LINK_H, CELL_H = (clib.c_defines(clib.FIRMWARE_CORE / name) for name in ("link.h", "cell.h"))
VERSION, STATE, REPORT, COMMAND, ACK = (LINK_H[k] for k in ("LINK_VERSION", "LINK_TYPE_STATE", "LINK_TYPE_REPORT",
                                                            "LINK_TYPE_COMMAND", "LINK_TYPE_ACK"))
TIMEOUT_MS, HEARTBEAT_MS, WAIT_MIN, WAIT_SPAN, RETRY_MS, QUEUE, REPORT_MS = (CELL_H[f"CELL_{k}"] for k in (
    "TIMEOUT_MS", "HEARTBEAT_MS", "WAIT_MIN_MS", "WAIT_SPAN_MS", "RETRY_MS", "QUEUE", "REPORT_MS"))
N, E, S, W = range(4)                                   # links (link.h's enum)
EW = CELL_H["CELL_RELAY_EW"]                            # state frame flag: east and west relayed
NW, NN, NE, WW, EE, SW, SS, SE = range(8)               # neighbour slots (nca_rule.h)


@pytest.fixture(scope="module")
def core(shipped_rule):
    lib = ctypes.CDLL(str(clib.build(shipped_rule, "core", kind="core")))
    u8p = ctypes.POINTER(ctypes.c_uint8)
    lib.link_crc16.restype = ctypes.c_uint16
    lib.link_cobs_encode.restype = ctypes.c_uint8
    lib.link_cobs_decode.restype = ctypes.c_int16
    lib.link_rx_byte.restype = ctypes.c_int16
    lib.link_rx_byte.argtypes = [ctypes.c_void_p, ctypes.c_uint8]
    lib.cell_init.argtypes = [ctypes.c_void_p, ctypes.c_uint16, ctypes.c_uint16]
    lib.cell_on_frame.argtypes = [ctypes.c_void_p, ctypes.c_uint8, u8p, ctypes.c_int16, ctypes.c_uint16]
    lib.cell_expire.argtypes = [ctypes.c_void_p, ctypes.c_uint16]
    lib.cell_maybe_fire.argtypes = [ctypes.c_void_p, ctypes.c_uint16]
    lib.cell_take_report.argtypes = [ctypes.c_void_p, u8p]
    lib.report_command.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint8]
    lib.report_grid.argtypes = [u8p, ctypes.c_char_p]
    lib.report_state.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.shim_cell_where.argtypes = [ctypes.c_void_p, u8p]
    lib.cell_build_frame.argtypes = [ctypes.c_void_p, u8p, ctypes.c_uint16]
    lib.cell_build_frame.restype = ctypes.c_uint8
    lib.shim_cell_size.restype = lib.shim_rx_size.restype = ctypes.c_size_t
    lib.shim_rx_buf.restype = u8p
    lib.shim_rx_buf.argtypes = [ctypes.c_void_p]
    lib.shim_cell_get.argtypes = [ctypes.c_void_p] * 4
    lib.shim_cell_set_state.argtypes = [ctypes.c_void_p] * 2
    lib.cell_on_bad_frame.argtypes = [ctypes.c_void_p]
    return lib


def buf(data=b"", size=None):
    return (ctypes.c_uint8 * (size or max(1, len(data))))(*data)


class Cell:
    def __init__(self, core, seed=1, now=0):
        self.core, self.mem = core, ctypes.create_string_buffer(core.shim_cell_size())
        self.rx = [ctypes.create_string_buffer(core.shim_rx_size()) for _ in range(4)]
        core.cell_init(self.mem, seed, now)

    def get(self):
        state, nbr, counters = np.zeros(16, np.int8), np.zeros((8, 16), np.int8), np.zeros(5, np.uint16)
        self.core.shim_cell_get(self.mem, state.ctypes.data, nbr.ctypes.data, counters.ctypes.data)
        return state, nbr, dict(zip(["fires", "good", "bad", "known", "next_fire"], counters.tolist()))

    def set_state(self, state):
        self.core.shim_cell_set_state(self.mem, np.ascontiguousarray(state, np.int8).ctypes.data)

    def where(self):
        out = buf(size=4)
        self.core.shim_cell_where(self.mem, out)
        return dict(zip(["x", "y", "hops", "queued"], list(out)))

    def command(self, line: str) -> int:
        return self.core.report_command(self.mem, line.encode(), len(line))

    def frame(self, now=0) -> bytes:
        out = buf(size=64)
        n = self.core.cell_build_frame(self.mem, out, now)
        return bytes(out[:n])

    def receive(self, link, wire: bytes, now=0):
        """Feed bytes to link's receiver; frames go to the cell as the firmware does."""
        results = []
        for b in wire:
            n = self.core.link_rx_byte(self.rx[link], b)
            if n > 0:
                self.core.cell_on_frame(self.mem, link, self.core.shim_rx_buf(self.rx[link]), n, now)
            elif n < 0:
                self.core.cell_on_bad_frame(self.mem)
            if n:
                results.append(n)
        return results


def encode(core, raw: bytes) -> bytes:
    out = buf(size=len(raw) + 3)
    n = core.link_cobs_encode(buf(raw), len(raw), out)
    return bytes(out[:n])


def raw_frame(core, states, flags=3, version=VERSION, ftype=STATE, where=(255, 255, 255)) -> bytes:
    """A state frame (three states and where the sender is), or another type's payload bytes."""
    body = bytes([version, ftype, flags]) + b"".join(np.asarray(s, np.int8).tobytes() for s in states)
    if ftype == 1 and len(states) == 3:
        body += bytes(where)
    crc = core.link_crc16(buf(body), len(body))
    return body + bytes([crc >> 8, crc & 0xFF])


def test_crc16_ccitt_false_check_value(core):
    assert core.link_crc16(buf(b"123456789"), 9) == 0x29B1
    assert core.link_crc16(buf(), 0) == 0xFFFF


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=253))
def test_cobs_round_trip(core, data):
    wire = encode(core, data)
    assert wire[-1] == 0 and 0 not in wire[:-1] and len(wire) == len(data) + 2
    body = buf(wire[:-1])
    assert core.link_cobs_decode(body, len(wire) - 1) == len(data)
    assert bytes(body[:len(data)]) == data


def test_valid_frame_and_idle_delimiters(core):
    c = Cell(core)
    wire = encode(core, raw_frame(core, [np.arange(16), np.ones(16), -np.ones(16)]))
    assert c.receive(E, b"\x00\x00" + wire) == [3 + 48 + 3]
    assert c.get()[2]["good"] == 1 and c.get()[2]["bad"] == 0


@pytest.mark.parametrize("damage", ["flip", "truncate", "version", "type", "short", "garbage"])
def test_bad_frames_are_dropped_counted_and_the_next_one_is_taken(core, damage):
    c = Cell(core)
    good_state = np.full(16, 9)
    raw = raw_frame(core, [np.full(16, 5), np.zeros(16), np.zeros(16)])
    if damage == "flip":
        wire = bytearray(encode(core, raw)); wire[10] ^= 0x04; wire = bytes(wire)
    elif damage == "truncate":
        wire = encode(core, raw)[:20] + b"\x00"
    elif damage == "version":
        wire = encode(core, raw_frame(core, [np.full(16, 5)] * 3, version=2))   # the old protocol
    elif damage == "type":
        wire = encode(core, raw_frame(core, [np.full(16, 5)] * 3, ftype=7))
    elif damage == "short":
        wire = encode(core, raw_frame(core, [np.full(16, 5)]))      # CRC fine, payload too short
    else:
        wire = bytes(range(1, 200)) + b"\x00"                        # line noise, overlong
    c.receive(W, wire)
    _, nbr, counters = c.get()
    assert counters["bad"] == 1 and counters["good"] == 0 and not nbr.any()
    c.receive(W, encode(core, raw_frame(core, [good_state, np.zeros(16), np.zeros(16)])))
    _, nbr, counters = c.get()
    assert counters["good"] == 1 and (nbr[WW] == 9).all()


def test_relays_fill_the_diagonals_and_respect_flags(core):
    """A state frame relays the sender's north and south neighbours, or (flag RELAY_EW) its east
    and west ones: each diagonal comes by two neighbours (docs/link-protocol.md)."""
    c = Cell(core)
    own, first, second = np.full(16, 1), np.full(16, 2), np.full(16, 3)
    c.receive(E, encode(core, raw_frame(core, [own, first, second], flags=3)))
    c.receive(W, encode(core, raw_frame(core, [own + 10, first + 10, second + 10], flags=1)))
    c.receive(N, encode(core, raw_frame(core, [own + 20, first + 20, second + 20], flags=3)))
    _, nbr, counters = c.get()
    assert (nbr[EE] == 1).all() and (nbr[NE] == 2).all() and (nbr[SE] == 3).all()
    assert (nbr[WW] == 11).all() and (nbr[NW] == 12).all() and not nbr[SW].any()   # second relay not valid
    assert (nbr[NN] == 21).all() and not nbr[SS].any()          # north's own north and south: not ours
    assert counters["known"] == (1 << EE) | (1 << NE) | (1 << SE) | (1 << WW) | (1 << NW) | (1 << NN)
    # east and west relays: from the north they are our NE and NW, from the south SE and SW,
    # from the east and west not ours
    c.receive(N, encode(core, raw_frame(core, [own + 30, first + 30, second + 30], flags=EW | 3)))
    c.receive(S, encode(core, raw_frame(core, [own + 40, first + 40, second + 40], flags=EW | 2)))
    c.receive(E, encode(core, raw_frame(core, [own + 50, first + 50, second + 50], flags=EW | 3)))
    _, nbr, counters = c.get()
    assert (nbr[NN] == 31).all() and (nbr[NE] == 32).all() and (nbr[NW] == 33).all()
    assert (nbr[SS] == 41).all() and (nbr[SW] == 43).all()       # its east relay not valid: SE as it was
    assert (nbr[EE] == 51).all() and (nbr[SE] == 3).all()
    assert counters["known"] == 0xFF


def test_silent_neighbours_time_out_to_zeros_and_rejoin(core):
    c = Cell(core)
    c.receive(S, encode(core, raw_frame(core, [np.full(16, 7)] * 3)), now=1000)
    core.cell_expire(c.mem, 1000 + TIMEOUT_MS)
    assert (c.get()[1][SS] == 7).all()
    core.cell_expire(c.mem, 1000 + TIMEOUT_MS + 1)
    assert not c.get()[1].any() and c.get()[2]["known"] == 0
    c.receive(S, encode(core, raw_frame(core, [np.full(16, 8)] * 3)), now=2500)   # plugged back in
    assert (c.get()[1][SS] == 8).all()
    core.cell_expire(c.mem, 65000)   # ms timestamps wrap at 2^16: still handled
    assert not c.get()[1].any()


def test_heartbeat_and_frame_contents(core):
    c = Cell(core, now=0)
    state = np.arange(-8, 8)
    c.set_state(state)
    c.receive(N, encode(core, raw_frame(core, [np.full(16, 4)] * 3)))
    c.receive(E, encode(core, raw_frame(core, [np.full(16, 5)] * 3)))
    first = c.frame(now=10)
    assert first and c.frame(now=10 + HEARTBEAT_MS - 1) == b""
    second = c.frame(now=10 + HEARTBEAT_MS)
    # what we send arrives on the east neighbour's west link and the south neighbour's north
    # link; frame by frame we relay our north and south neighbours, then our east and west ones:
    # our north one is the east neighbour's NW, our east one the south neighbour's NE
    seen = []
    for wire in (first, second):
        east, south = Cell(core), Cell(core)
        east.receive(W, wire)
        south.receive(N, wire)
        (_, e, _), (_, s, _) = east.get(), south.get()
        assert (e[WW] == state).all() and (s[NN] == state).all()
        assert not e[SW].any() and not s[NW].any()               # our south and west: never heard
        seen.append(((e[NW] == 4).all(), (s[NE] == 5).all()))
        assert seen[-1] in ((True, False), (False, True)) and not e[NW][e[NW] != 4].any()
    assert seen[0] != seen[1]                                    # the pairs alternate


def test_firing_runs_the_rule_after_a_random_wait(core, crules_shipped):
    c = Cell(core, seed=1234, now=0)
    seed_state = np.array(spec.SEED_CELL, np.int8)
    c.set_state(seed_state)
    for link, state in ((E, np.full(16, 10)), (N, np.full(16, -3))):
        c.receive(link, encode(core, raw_frame(core, [state] * 3, flags=0)))
    state0, nbr, counters = c.get()
    first = counters["next_fire"]
    assert WAIT_MIN <= first < WAIT_MIN + WAIT_SPAN
    assert core.cell_maybe_fire(c.mem, first - 1) == 0
    assert core.cell_maybe_fire(c.mem, first) == 1
    state1, _, counters = c.get()
    assert counters["fires"] == 1
    assert np.array_equal(state1, crules_shipped.fire(state0[None], nbr[None])[0])
    assert WAIT_MIN <= (counters["next_fire"] - first) % 65536 < WAIT_MIN + WAIT_SPAN


def test_nine_cells_exchange_and_every_centre_sees_its_true_neighbourhood(core):
    """A 3x3 patch wired as boards are: after two rounds of frames, each cell's slots hold its
    real neighbours' states, diagonals included (relayed), and the edges read as zeros."""
    rng = np.random.default_rng(0)
    states = rng.integers(-128, 128, (3, 3, 16)).astype(np.int8)
    cells = [[Cell(core, seed=1 + y * 3 + x) for x in range(3)] for y in range(3)]
    for y in range(3):
        for x in range(3):
            cells[y][x].set_state(states[y, x])
    for rnd in range(2):
        wires = [[cells[y][x].frame(now=rnd * HEARTBEAT_MS) for x in range(3)] for y in range(3)]
        for y in range(3):
            for x in range(3):
                for link, (dx, dy) in ((N, (0, -1)), (E, (1, 0)), (S, (0, 1)), (W, (-1, 0))):
                    if 0 <= x + dx < 3 and 0 <= y + dy < 3:
                        cells[y][x].receive(link, wires[y + dy][x + dx], now=rnd * HEARTBEAT_MS)
    offsets = [(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)]
    for y in range(3):
        for x in range(3):
            _, nbr, _ = cells[y][x].get()
            for k, (dx, dy) in enumerate(offsets):
                inside = 0 <= x + dx < 3 and 0 <= y + dy < 3
                want = states[y + dy, x + dx] if inside else np.zeros(16, np.int8)
                assert np.array_equal(nbr[k], want), (x, y, k)


SIDES = ((N, 0, -1), (E, 1, 0), (S, 0, 1), (W, -1, 0))


class Patch:
    """W x H cells wired as boards are, exchanging whatever frames they build every 10 ms."""

    def __init__(self, core, width, height, corrupt=0.0, seed=0):
        self.core, self.width, self.height, self.now = core, width, height, 0
        self.cells = {(x, y): Cell(core, seed=1 + y * width + x) for y in range(height) for x in range(width)}
        self.dead = set()
        self.at_host = []
        self.corrupt, self.rng = corrupt, np.random.default_rng(seed)   # share of bytes with a bit flipped

    def run(self, ms, gateway=None):
        for _ in range(ms // 10):
            self.now += 10
            wires = {}
            for pos, c in self.cells.items():
                if pos not in self.dead:
                    self.core.cell_expire(c.mem, self.now)
                    wires[pos] = c.frame(self.now)
            for (x, y), wire in wires.items():
                for link, dx, dy in SIDES:   # what (x, y) sends on `link` arrives on the facing side
                    to = (x + dx, y + dy)
                    if to in self.cells and to not in self.dead and wire:
                        self.cells[to].receive((link + 2) % 4, self.noisy(wire), self.now)
            if gateway:
                out = buf(size=6)
                while self.core.cell_take_report(self.cells[gateway].mem, out):
                    self.at_host.append(bytes(out))


    def noisy(self, wire: bytes) -> bytes:
        if not self.corrupt:
            return wire
        hit = self.rng.random(len(wire)) < self.corrupt
        bits = self.rng.integers(0, 8, len(wire))
        return bytes(b ^ (1 << int(k)) if h else b for b, h, k in zip(wire, hit, bits))


def test_boards_learn_coordinates_and_routes_from_the_gateway(core):
    p = Patch(core, 5, 4)
    assert all(c.where()["x"] == 255 for c in p.cells.values())    # nobody knows before a gateway
    assert p.cells[(2, 1)].command("G 2 1")
    p.run(1500, gateway=(2, 1))
    for (x, y), c in p.cells.items():
        assert c.where() | {"queued": 0} == {"x": x, "y": y, "hops": abs(x - 2) + abs(y - 1), "queued": 0}
    p.dead.add((1, 1))                        # a dead board: routes go round it after the timeout
    p.run(TIMEOUT_MS + 500, gateway=(2, 1))
    assert p.cells[(0, 1)].where()["hops"] == 4 and p.cells[(0, 1)].where()["x"] == 0


def test_reports_reach_the_gateway_with_coordinates_and_rgba(core):
    p = Patch(core, 4, 3)
    rgba = {pos: np.array([pos[0] * 10, pos[1] * 10, 7, 64] + [0] * 12, np.int8) for pos in p.cells}
    for pos, c in p.cells.items():
        c.set_state(rgba[pos])
    p.cells[(0, 0)].command("G 0 0")
    p.run(5000, gateway=(0, 0))
    got = {(r[0], r[1]): np.frombuffer(r[2:], np.int8) for r in p.at_host}
    assert set(got) == set(p.cells)
    for pos, value in got.items():
        assert np.array_equal(value, rgba[pos][:4]), pos
    line = ctypes.create_string_buffer(80)
    n = core.report_grid(buf(p.at_host[0]), line)
    assert line.raw[:n] == b"R " + p.at_host[0].hex().encode() + b"\n"


def report_frame(core, reports: bytes, to_link: int, seq: int, acks: int = 0) -> bytes:
    """A report frame as a board sends it: for its neighbour on `to_link`, sequence bit `seq`."""
    return encode(core, _with_crc(core, bytes([VERSION, REPORT, to_link | seq << 2 | acks << 4]) + reports))


def decode(core, wire: bytes) -> bytes:
    """The frame (version, type, flags, payload) inside the wire bytes of one frame."""
    rx = ctypes.create_string_buffer(core.shim_rx_size())
    for b in wire:
        n = core.link_rx_byte(rx, b)
    assert n > 0, wire
    return bytes(core.shim_rx_buf(rx)[:n])


def test_reports_of_every_board_reach_the_gateway_over_noisy_links(core):
    """1% of the bytes on every link get a bit flipped: a 4-report frame then survives one hop
    3 times in 4, and the 10 hops from the far corner 1 time in 20, without acknowledgements.
    With them, every board is heard."""
    p = Patch(core, 6, 6, corrupt=0.01, seed=1)
    for (x, y), c in p.cells.items():
        c.set_state(np.array([x, y, 7, 64] + [0] * 12, np.int8))
    p.cells[(0, 0)].command("G 0 0")
    p.run(10000, gateway=(0, 0))
    heard = {(r[0], r[1]) for r in p.at_host}
    assert heard == set(p.cells), sorted(set(p.cells) - heard)
    for r in p.at_host:
        assert r[2:] == bytes([r[0], r[1], 7, 64])
    bad = sum(c.get()[2]["bad"] for c in p.cells.values())
    assert bad > 50                                   # the noise was there, and caught


def test_reports_are_taken_only_by_the_addressed_neighbour(core):
    report = bytes([3, 4, 1, 2, 3, 64])
    for to_link, queued in ((W, 0), (E, 1)):    # arrives on our west side: the sender sent it east
        c = Cell(core)
        c.receive(W, report_frame(core, report, to_link, seq=1))
        assert c.where()["queued"] == queued and c.get()[2]["good"] == 1


def test_report_frames_are_acked_and_a_repeat_is_not_taken_twice(core):
    c = Cell(core)
    reports = bytes([3, 4, 1, 2, 3, 64, 5, 6, 7, 8, 9, 64])
    c.receive(W, report_frame(core, reports, E, seq=1))
    assert c.where()["queued"] == 2
    flags = decode(core, c.frame(now=0))[2]            # the next frame, whatever its type, acks it
    assert (flags >> (4 + W)) & 1 == 1 and flags >> 4 == 1 << W
    c.receive(W, report_frame(core, reports, E, seq=1))  # our ack was lost: the sender repeats
    assert c.where()["queued"] == 2                     # not taken twice...
    assert decode(core, c.frame(now=1))[1:] == bytes([ACK, 1 << (4 + W)])   # ...but acked again
    c.receive(W, report_frame(core, reports, E, seq=0))  # the next frame: taken
    assert c.where()["queued"] == 4


def test_a_full_queue_takes_no_frame_and_acks_none(core):
    c = Cell(core)
    four = bytes(range(1, 25))
    for link in (W, N, S):                               # 12 of the queue's 16 places
        c.receive(link, report_frame(core, four, (link + 2) % 4, seq=1))
    c.receive(E, report_frame(core, four, W, seq=1))     # 16 would fill it: one place stays free
    assert c.where()["queued"] == QUEUE - 4
    assert decode(core, c.frame(now=0))[2] >> 4 == (1 << W) | (1 << N) | (1 << S)   # E not acked: it retries
    c.receive(E, report_frame(core, four[:6], W, seq=1))
    assert c.where()["queued"] == QUEUE - 3


def test_reports_wait_for_the_ack_and_are_sent_again_after_the_retry_time(core):
    """A board 2 hops out: its reports go to its parent until the parent acks them."""
    c = Cell(core)
    # the gateway (0, 0) on our west side: our parent is W, we are at (1, 0)
    c.receive(W, encode(core, raw_frame(core, [np.zeros(16)] * 3, flags=0, where=(0, 0, 0))), now=0)
    core.cell_expire(c.mem, 0)
    assert c.where() == {"x": 1, "y": 0, "hops": 1, "queued": 1}      # its own report is queued
    assert decode(core, c.frame(now=0))[1] == STATE                    # state frames go first
    sent = decode(core, c.frame(now=10))
    assert sent[1] == REPORT and sent[2] & 3 == W and sent[3:5] == bytes([1, 0])
    seq = (sent[2] >> 2) & 1
    assert c.frame(now=100) == b""                                     # waiting for the ack
    assert decode(core, c.frame(now=10 + RETRY_MS)) == sent            # no ack: the same frame again
    nack = encode(core, raw_frame(core, [np.zeros(16)] * 3, flags=(seq ^ 1) << (4 + E), where=(0, 0, 0)))
    c.receive(W, nack, now=200)                                        # the parent acks something else
    assert c.where()["queued"] == 1
    ack = encode(core, raw_frame(core, [np.zeros(16)] * 3, flags=seq << (4 + E), where=(0, 0, 0)))
    c.receive(N, ack, now=210)                                         # not from the parent: no ack
    assert c.where()["queued"] == 1
    c.receive(W, ack, now=220)
    assert c.where()["queued"] == 0 and c.frame(now=230) == b""


def test_command_frames_with_an_unknown_op_or_a_reversed_rectangle_are_bad_and_not_passed_on(core):
    for op, rect in ((ord("Q"), (0, 0, 5, 5)), (ord("Z"), (3, 0, 1, 5)), (ord("P"), (0, 4, 5, 2))):
        c = Cell(core)
        c.command("G 1 1")
        c.set_state(np.full(16, 9, np.int8))
        body = bytes([VERSION, COMMAND, 0, 0x12, 0x34, op, *rect])
        c.receive(N, encode(core, _with_crc(core, body)))
        state, _, counters = c.get()
        assert counters["bad"] == 1 and counters["good"] == 0 and (state == 9).all()
        frame = decode(core, c.frame(now=0))
        assert frame[1] != COMMAND                    # not passed on


@pytest.mark.parametrize("n", [1, 5, 7, 11, 37, 42])
def test_report_frames_of_broken_length_are_bad_and_queue_nothing(core, n):
    c = Cell(core)
    c.receive(W, report_frame(core, bytes(range(1, n + 1)), E, seq=1))
    assert c.get()[2]["bad"] == 1 and c.where()["queued"] == 0


def _with_crc(core, body: bytes) -> bytes:
    crc = core.link_crc16(buf(body), len(body))
    return body + bytes([crc >> 8, crc & 0xFF])


def test_host_commands_flood_the_grid_and_act_on_their_rectangle_once(core):
    p = Patch(core, 5, 4)
    for c in p.cells.values():
        c.set_state(np.full(16, 20, np.int8))
    p.cells[(0, 0)].command("G 0 0")
    p.run(1000)
    assert p.cells[(0, 0)].command("Z 1 1 3 2")
    p.run(500)
    seed = np.array(spec.SEED_CELL, np.int8)
    for (x, y), c in p.cells.items():
        inside = 1 <= x <= 3 and 1 <= y <= 2
        assert np.array_equal(c.get()[0], np.zeros(16) if inside else np.full(16, 20)), (x, y)
    p.cells[(2, 1)].set_state(np.full(16, 5, np.int8))
    p.run(1000)                                    # the command does not come round again
    assert (p.cells[(2, 1)].get()[0] == 5).all()
    assert p.cells[(0, 0)].command("P 4 3")
    p.run(500)
    assert np.array_equal(p.cells[(4, 3)].get()[0], seed) and (p.cells[(2, 1)].get()[0] == 5).all()


@pytest.mark.parametrize("line", ["", "G", "G 1", "P 1", "P 1 2 3", "P 1 2 3 4 5", "X 1 2", "P 300 1",
                                  "P a b", "Z 1,2", "P 1  2x", "Z 5 0 1 3", "P 0 4 3 2", "Q 1 2 3 4"])
def test_malformed_host_commands_are_refused(core, line):
    c = Cell(core)
    c.set_state(np.full(16, 3, np.int8))
    assert c.command(line) == 0
    assert (c.get()[0] == 3).all() and c.where()["hops"] == 255


def test_lone_board_commands_and_state_line(core):
    c = Cell(core)
    assert c.command("P")
    assert np.array_equal(c.get()[0], np.array(spec.SEED_CELL, np.int8))
    line = ctypes.create_string_buffer(80)
    n = core.report_state(c.mem, line)
    assert line.raw[:n] == b"S 0000 " + c.get()[0].tobytes().hex().encode() + b" 0000 0000 ff ff ff\n"
    assert c.command("Z") and not c.get()[0].any()
    assert c.command("G 7 9") and c.where()["x"] == 7 and c.where()["y"] == 9 and c.where()["hops"] == 0


def test_a_board_reports_a_colour_that_moved_more_than_a_step_and_otherwise_every_fourth_period(core):
    c = Cell(core)
    c.command("G 2 3")                                  # the gateway queues its own reports
    state = np.zeros(16, np.int8)
    state[:4] = [10, 20, 30, 64]
    queued, now = [], 0
    for step in [0, 1, -1, 1, 0, 2, 2, 0]:              # change of channel R before each period
        state[0] += step
        c.set_state(state)
        now += 2 * REPORT_MS + 4                        # past the next report time (period..2 periods on)
        core.cell_expire(c.mem, now)
        out = buf(size=6)
        got = core.cell_take_report(c.mem, out)
        queued.append(bytes(out)[2] if got else None)
    # reported: the first, after the 4th unmoved period, a move of 2, and again 4 periods on
    assert queued == [10, None, None, None, 11, 13, 15, None]


def test_a_board_reports_as_soon_as_it_has_a_route(core):
    """Its first report goes when it learns a route to the gateway, not a report period later:
    the host hears of every board early (the far ones most of all)."""
    c = Cell(core, now=0)
    core.cell_expire(c.mem, 100)                        # no route yet: nothing to report to
    assert c.where()["hops"] == 255 and c.where()["queued"] == 0
    c.receive(W, encode(core, raw_frame(core, [np.zeros(16)] * 3, flags=0, where=(0, 0, 0))), now=200)
    core.cell_expire(c.mem, 216)                        # a route through the gateway to the west
    assert c.where() == {"x": 1, "y": 0, "hops": 1, "queued": 1}
    core.cell_expire(c.mem, 232)
    assert c.where()["queued"] == 1                     # and the next one a period later
