"""PlatformIO pre-script: regenerate the rule's C (python -m codegen build) when generated/ is
missing or stale for the model named by custom_nca_model, before anything is compiled."""
import os
import subprocess
import sys

Import("env")  # noqa: F821  (SCons injects it)

project = env.subst("$PROJECT_DIR")  # noqa: F821
model = os.path.join(project, env.GetProjectOption("custom_nca_model", "models/lizard.npz"))  # noqa: F821
out = os.path.join(project, "generated")
sys.path.insert(0, project)
try:
    from codegen.build import render  # same interpreter as PlatformIO: compare in memory
    from trainer import modelfile

    try:
        rule = modelfile.load(model)
    except modelfile.ModelFileError as e:
        sys.stderr.write(f"error: {e}\n")
        env.Exit(2)  # noqa: F821
    files = render(rule, os.path.basename(model))
    stale = [n for n, text in files.items()
             if not os.path.isfile(os.path.join(out, n)) or open(os.path.join(out, n)).read() != text]
except ImportError:  # PlatformIO lives in another Python: always regenerate through python3
    stale = ["(cannot compare)"]
if stale:
    print(f"codegen: generated/ is missing or stale ({', '.join(stale)}): python -m codegen build")
    python = sys.executable if "codegen" in sys.modules else "python3"
    r = subprocess.run([python, "-m", "codegen", "build", "--model", model, "--out", out], cwd=project)
    if r.returncode != 0:
        env.Exit(r.returncode)  # noqa: F821
