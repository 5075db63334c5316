"""Prepare PlatformIO's core folder (core_dir in platformio.ini) so `pio run` works offline:
install tool-scons from the PyPI SCons, switch off telemetry and the upgrade check.
Run by ./setup.sh; harmless to run again."""
import configparser
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run by path from ./setup.sh
from rule.files import REPO  # noqa: E402


def main() -> int:
    from platformio.dependencies import get_core_dependencies
    import SCons

    ini = configparser.ConfigParser(interpolation=None)
    ini.read(REPO / "platformio.ini")
    core = REPO / ini.get("platformio", "core_dir")
    want = get_core_dependencies()["tool-scons"].lstrip("~^=")  # e.g. 4.41101.0 = SCons 4.11.1
    packed = int(want.split(".")[1])
    scons_version = f"{packed // 10000}.{packed // 100 % 100}.{packed % 100}"
    have = SCons.__version__
    if have != scons_version:  # PlatformIO pins tool-scons; the PyPI SCons must be that version
        print(f"offline.py: PlatformIO wants SCons {scons_version}, found {have}: "
              f"pip install scons=={scons_version}", file=sys.stderr)
        return 1
    pkg = core / "packages" / "tool-scons"
    pkg.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "pio" / "tool-scons" / "scons.py", pkg / "scons.py")
    (pkg / "package.json").write_text(json.dumps(
        {"name": "tool-scons", "version": want, "description": "SCons from PyPI", "system": "*"}))
    (pkg / ".piopm").write_text(json.dumps(
        {"type": "tool", "name": "tool-scons", "version": want,
         "spec": {"owner": "platformio", "id": None, "name": "tool-scons", "requirements": None, "uri": None}}))
    state = core / "appstate.json"
    data = json.loads(state.read_text()) if state.is_file() else {}
    data.setdefault("settings", {})["enable_telemetry"] = False
    # the upgrade check would block for a minute without network: mark it as just done
    data.setdefault("last_check", {})["platformio_upgrade"] = int(time.time()) + 10 * 365 * 86400
    state.write_text(json.dumps(data))
    print(f"PlatformIO core ready for offline builds: {core} (tool-scons {want} = SCons {have})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
