"""`jhubctl --help` against a bare typer + rich app with as many commands, in the same run.

    .venv/bin/python bench/bench_cli.py [--rounds N]

The bare app is generated here: the same number of commands and sub-apps as jhubctl, each with a
docstring and a `--json` flag, and nothing else, so the ratio is what jhubctl adds on top of typer and
rich (its own modules, any import that sneaks onto the start-up path). Rounds alternate between the two.
Target (docs/benchmarks.md): ratio ≤ 1.5. The report also lists any heavy module imported at start-up.
"""

from __future__ import annotations

import argparse
import compileall
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import typer

import jhubctl

BIN = Path(sys.executable).parent
HEAVY = ("azure", "kubernetes", "httpx", "pydantic", "jupyterhub", "nbformat", "websockets", "yaml")


def shape() -> dict[str, list[str]]:
    """jhubctl's command tree: top-level command names, and each sub-app's commands."""
    from jhubctl.cli import app

    root = typer.main.get_command(app)
    tree: dict[str, list[str]] = {"": []}
    for name, command in root.commands.items():
        subs = getattr(command, "commands", None)
        if subs:
            tree[name] = list(subs)
        else:
            tree[""].append(name)
    return tree


def bare_app(tree: dict[str, list[str]]) -> str:
    lines = ["import typer", "import rich", "", "app = typer.Typer(rich_markup_mode='rich')", ""]

    def command(owner: str, name: str) -> None:
        func = f"{owner}_{name}".replace("-", "_").strip("_")
        lines.extend([f"@{owner or 'app'}.command({name!r})",
                      f"def {func}(json_flag: bool = typer.Option(False, '--json', help='Machine output.')) -> None:",
                      f"    {('Run ' + name)!r}", ""])

    for name in tree[""]:
        command("", name)
    for group, names in tree.items():
        if group:
            lines.extend([f"{group} = typer.Typer(help={group!r})", f"app.add_typer({group}, name={group!r})", ""])
            for name in names:
                command(group, name)
    lines.extend(["if __name__ == '__main__':", "    app()"])
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    # jhubctl's modules as an installed copy has them, byte-compiled (pip does it at install time): with
    # PYTHONDONTWRITEBYTECODE set (CI machines set it) a source checkout would recompile them on every run.
    compileall.compile_dir(Path(jhubctl.__file__).parent, quiet=1)
    tree = shape()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bare.py"
        script.write_text(bare_app(tree))
        argvs = {"jhubctl": [str(BIN / "jhubctl"), "--help"], "bare": [sys.executable, str(script), "--help"]}
        samples: dict[str, list[float]] = {name: [] for name in argvs}
        for round_ in range(rounds):
            for name in (["jhubctl", "bare"] if round_ % 2 == 0 else ["bare", "jhubctl"]):
                began = time.perf_counter()
                subprocess.run(argvs[name], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                samples[name].append(time.perf_counter() - began)
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys; from jhubctl.cli import app; print(' '.join(sorted(sys.modules)))"],
        check=True, capture_output=True, text=True,
    ).stdout.split()
    heavy = sorted({m.split(".")[0] for m in loaded if m.split(".")[0] in HEAVY})
    ours, bare = statistics.median(samples["jhubctl"]), statistics.median(samples["bare"])
    count = sum(len(names) for names in tree.values())
    print(f"bare typer+rich app, {count} commands --help   {bare * 1000:7.1f} ms")
    print(f"jhubctl --help                          {ours * 1000:7.1f} ms   ratio {ours / bare:.2f}   "
          f"(target ≤ 1.5; median of {rounds})")
    print(f"heavy modules imported by the CLI at start-up: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
