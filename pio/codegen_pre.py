"""PlatformIO pre-script: make generated/ hold the rule the user means before anything is
compiled, and say which (codegen/prepare.py; `python -m codegen prepare` does the same)."""
import subprocess
import sys

Import("env")  # noqa: F821  (SCons injects it)

project = env.subst("$PROJECT_DIR")  # noqa: F821
ini_model = env.GetProjectOption("custom_nca_model", "") or None  # noqa: F821
sys.path.insert(0, project)
try:
    from codegen.prepare import PrepareError, prepare  # same interpreter as PlatformIO: no new process
    from rule.modelfile import ModelFileError
except ImportError:  # PlatformIO lives in another Python: ask python3
    cmd = ["python3", "-m", "codegen", "prepare", "--project", project] + (["--model", ini_model] if ini_model else [])
    code = subprocess.run(cmd, cwd=project).returncode
    if code != 0:
        env.Exit(code)  # noqa: F821
else:
    try:
        for line in prepare(project, ini_model):
            print(line)
    except (PrepareError, ModelFileError, OSError) as e:
        sys.stderr.write(f"error: {e}\n")
        env.Exit(2)  # noqa: F821
