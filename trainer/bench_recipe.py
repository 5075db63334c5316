"""python -m trainer bench-recipe: does the default recipe generalise? Trains each picture of a
set of the article's emoji with the default command (only --target changed), evaluates each
(integer model, and on a grid's late neighbour states), and prints one table of bars and times.

Runs are subprocesses, `--jobs` at a time with the cores shared out (one thread each on 2 cores
trains faster in total than one run on two), each in its own run folder: a bench that stops
resumes where its runs stopped.
"""
import dataclasses
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rule.cli import UsageError, at_least_one
from rule.files import atomic_write
from rule.plaintext import plain
from trainer.config import TrainConfig, tiny

# the article's emoji (Mordvintsev et al. 2020, fig. "Experiment 1"), six of them, lizard first
EMOJI = {"lizard": "🦎", "smiley": "😀", "boom": "💥", "fish": "🐠", "butterfly": "🦋", "ladybug": "🐞"}
BAR = 3e-4            # growth, persistence and regeneration, every picture (issue 14)
LIZARD_BAR = 5e-5     # the shipped picture
FIGURES = ("growth_loss", "persist_loss", "regen_loss")


def recipe_changes(args) -> dict:
    """The train options the bench passes to every picture (None: the recipe's)."""
    return {k: getattr(args, k) for k in ("palette", "half_damage") if getattr(args, k) is not None}


def run_one(name: str, target: str, args, threads: int) -> dict:
    """Train (or resume) one picture, then evaluate it; the figures as a dict."""
    folder = Path(args.out_dir) / name
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    train = [sys.executable, "-m", "trainer", "train", "--target", target, "--name", name, "--out-dir", str(folder),
             "--threads", str(threads), "--quiet", "--no-eval"] + (["--tiny"] if args.tiny else []) \
        + [f"--{k.replace('_', '-')}={v}" for k, v in recipe_changes(args).items()]
    times = folder / "bench-times.json"
    spent = json.loads(times.read_text()).get("train_s", 0.0) if times.is_file() else 0.0
    started = time.time()
    done = subprocess.run(train, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        return {"name": name, "error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    spent += time.time() - started
    with atomic_write(times) as tmp:
        Path(tmp).write_text(json.dumps({"train_s": spent, "threads": threads}))
    out = {"name": name, "target": target, "train_min": spent / 60, "threads": threads}
    for kind, extra in (("plain", []), ("grid", ["--grid"])):
        ev = subprocess.run([sys.executable, "-m", "trainer", "eval", "--model", str(folder / "model.npz"), "--json",
                             "--runs", str(args.runs)] + extra, env=env, capture_output=True, text=True)
        if ev.returncode != 0:
            return {"name": name, "error": (ev.stderr.strip().splitlines() or ["eval failed"])[-1]}
        out[kind] = json.loads(ev.stdout.strip().splitlines()[-1])
    return out


def table(results: list) -> list:
    from trainer.evaluate import failing_text   # here: the bench's own process needs no torch until now
    head = ("| picture | growth | persist | regen | worst run | 10% dead | grid: growth | grid: 10% dead, relays lost "
            "| grid: 1% corrupt | train min (threads) | bars |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['name']} | error: {plain(r['error'], 120)} |")
            continue
        p, g = r["plain"], r["grid"]
        bar = LIZARD_BAR if r["name"] == "lizard" else BAR
        ok = all(p[k] <= bar for k in FIGURES)
        names = [k.removesuffix("_loss") for k in FIGURES]
        failing = max(p.get(n + "_failing", 0) for n in names)   # eval's count of runs over FAILING x a median
        worst = f"{max(p[n + '_worst'] for n in names):.2e}"
        worst += f" ({failing_text(failing, p['runs'])})" if failing else ""
        lines.append(f"| {r['target']} {r['name']} | {p['growth_loss']:.2e} | {p['persist_loss']:.2e} | "
                     f"{p['regen_loss']:.2e} | {worst} | "
                     f"{p['dead_boards_loss']:.2e} | {g['growth_loss']:.2e} | "
                     f"{g.get('dead_boards_loss', float('nan')):.2e} | {g.get('corrupt_loss', float('nan')):.2e} | "
                     f"{r['train_min']:.1f} ({r['threads']}) | {'pass' if ok else 'FAIL'} (<= {bar:.0e}) |")
    return lines


def main(args) -> int:
    names = args.emoji or list(EMOJI)
    unknown = [n for n in names if n not in EMOJI]
    if unknown:
        raise UsageError(f"--emoji: unknown {', '.join(map(repr, unknown))}; the set is {', '.join(EMOJI)}")
    if not 1 <= args.jobs <= 64:
        raise UsageError(f"--jobs: expected 1..64, got {args.jobs}")
    at_least_one("--runs", args.runs)
    problems = dataclasses.replace(tiny() if args.tiny else TrainConfig(), **recipe_changes(args)).problems()
    if problems:
        raise UsageError("; ".join(problems))
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    print(f"bench-recipe: {len(names)} pictures, {args.jobs} at a time, {threads} thread(s) each, run folders in "
          f"{args.out_dir} (a stopped bench resumes)", flush=True)
    started = time.time()
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = {n: pool.submit(run_one, n, EMOJI[n], args, threads) for n in names}
        results = []
        for n in names:
            results.append(futures[n].result())
            r = results[-1]
            print(f"  {n}: " + (f"error: {plain(r['error'], 200)}" if "error" in r else
                                f"growth {r['plain']['growth_loss']:.2e} in {r['train_min']:.1f} min "
                                f"({time.time() - started:.0f} s into the bench)"), flush=True)
    lines = table(results)
    print("\n".join(lines))
    out = Path(args.out_dir)
    with atomic_write(out / "results.json") as tmp:
        Path(tmp).write_text(json.dumps(results, indent=1))
    with atomic_write(out / "results.md") as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    print(f"table: {out / 'results.md'}; figures: {out / 'results.json'}")
    failed = [r for r in results if "error" in r]
    return 1 if failed else 0
