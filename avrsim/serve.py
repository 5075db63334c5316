"""The emulated grid as a device: W x H emulated boards (grid.c --live) with the USB serial port of
the board at the gateway position served on a TCP port, so the monitor opens
socket://localhost:4000 as it opens a real gateway's /dev/ttyUSB0.

On that connection, lines go to the gateway board's USB serial as typed; lines starting with '!'
are for the emulator instead (grid.c's commands: "!kill 3 4", "!reset 3 4", "!erase 0 12 23 23",
"!corrupt 10000", "!load firmware.elf"), and "!stop" ends it."""
import os
import selectors
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from avrsim.build import ToolError, grid_program
from rule.files import BUILD, REPO, atomic_write

STATE_DIR = BUILD / "emugrid"
IMAGE = STATE_DIR / "firmware.elf"     # what `pio run -e emugrid -t upload` flashed
DEFAULT_PORT = 4000


def serve(elf: Path, width: int, height: int, port: int = DEFAULT_PORT, gateway=(0, 0), threads: int = 0) -> int:
    cmd = [str(grid_program()), str(elf), str(width), str(height), "0", "--live"]
    cmd += ["--threads", str(threads)] if threads else []
    return serve_program(cmd, f"emulated grid: {width}x{height} boards running {elf}", port, gateway)


def serve_program(cmd: list, what: str, port: int = DEFAULT_PORT, gateway=(0, 0)) -> int:
    """Run a grid program in --live mode (avrsim/grid.c or the twin) and serve the gateway
    board's USB serial on a TCP port; lines starting with '!' are commands for the grid."""
    listener = socket.create_server(("127.0.0.1", port))
    grid = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, "listen")
    sel.register(grid.stdout, selectors.EVENT_READ, "grid")
    clients, grid_out = {}, b""
    at_gateway = (str(gateway[0]).encode(), str(gateway[1]).encode())
    print(f"{what}; gateway ({gateway[0]}, {gateway[1]}) on socket://localhost:{port}", flush=True)
    try:
        while grid.poll() is None:
            for key, _ in sel.select(timeout=0.5):
                if key.data == "listen":
                    conn, _ = listener.accept()
                    conn.setblocking(False)
                    clients[conn] = b""
                    sel.register(conn, selectors.EVENT_READ, "client")
                elif key.data == "grid":
                    data = os.read(grid.stdout.fileno(), 65536)
                    if not data:
                        break
                    lines = (grid_out + data).split(b"\n")
                    grid_out = lines.pop()
                    out = b""
                    for line in lines:  # "<ms> <x> <y> <line>": what the gateway's USB port shows
                        parts = line.split(b" ", 3)
                        if len(parts) == 4 and (parts[1], parts[2]) == at_gateway:
                            out += parts[3] + b"\n"
                    for conn in list(clients):
                        try:
                            conn.sendall(out)
                        except OSError:  # gone: the read side notices and forgets it
                            pass
                else:
                    conn = key.fileobj
                    data = b""
                    try:
                        data = conn.recv(4096)
                    except OSError:
                        pass
                    if not data:
                        sel.unregister(conn)
                        clients.pop(conn, None)
                        conn.close()
                        continue
                    lines = (clients[conn] + data).replace(b"\r", b"\n").split(b"\n")
                    clients[conn] = lines.pop()[-256:]
                    for line in filter(None, (l.strip() for l in lines)):
                        if line == b"!stop":
                            return 0
                        to_grid = line[1:] if line.startswith(b"!") else b" ".join(at_gateway) + b" " + line
                        grid.stdin.write(to_grid + b"\n")
                        grid.stdin.flush()
    except KeyboardInterrupt:
        return 0
    finally:
        if grid.poll() is None:
            grid.stdin.close()
            try:
                grid.wait(timeout=5)
            except subprocess.TimeoutExpired:
                grid.kill()
        listener.close()
    return grid.returncode or 0


def _connect(port: int):
    try:
        return socket.create_connection(("127.0.0.1", port), timeout=1)
    except OSError:
        return None


def upload(elf: Path, port: int = DEFAULT_PORT, grid: str | None = None) -> int:
    """Flash the emulated grid: copy the image, then load it into the running grid, or start one."""
    if not elf.is_file():
        raise ToolError(f"{elf}: no firmware image (run pio run -e emugrid first)")
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with atomic_write(IMAGE) as tmp:
        shutil.copyfile(elf, tmp)
    conn = _connect(port)
    if conn:
        conn.sendall(f"!load {IMAGE}\n".encode())
        conn.close()
        print(f"flashed {IMAGE} into the emulated grid on socket://localhost:{port}")
        return 0
    cmd = [sys.executable, "-m", "avrsim", "serve", "--elf", str(IMAGE), "--port", str(port)]
    cmd += ["--grid", grid] if grid else []
    start_detached(cmd, port, STATE_DIR / "serve.log", f"the emulated grid with {IMAGE}")
    return 0


def start_detached(cmd: list, port: int, log_path: Path, what: str, wait_s: float = 10) -> None:
    """Start a grid server that outlives this process; return once it takes connections."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True, cwd=REPO)
    for _ in range(int(wait_s * 10)):
        time.sleep(0.1)
        conn = _connect(port)
        if conn:
            conn.close()
            print(f"started {what} on socket://localhost:{port} (log: {log_path}; "
                  f"stop it with python -m avrsim stop --port {port})")
            return
    raise ToolError(f"{what} did not start: see {log_path}")


def stop(port: int = DEFAULT_PORT) -> int:
    conn = _connect(port)
    if not conn:
        print(f"no emulated grid on port {port}")
        return 1
    conn.sendall(b"!stop\n")
    conn.close()
    print("stopped the emulated grid")
    return 0
