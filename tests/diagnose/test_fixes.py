"""Every fix diagnose can print names a command that exists: jhubctl's through the real command line's parser,
kubectl's, helm's and az's checked to be well formed. Checks build fixes only from the catalogue, so walking
the catalogue with every value a placeholder takes walks every fix."""

from __future__ import annotations

import itertools
import json
import re
import shlex
import string
from pathlib import Path

import pytest
import typer

from jhubctl.azure.provision import STEPS
from jhubctl.diagnose import local
from jhubctl.diagnose.fixes import FIXES, fix, only

SRC = Path(__file__).parents[2] / "src" / "jhubctl"

#: Values each placeholder takes; several where the command changes with it.
SAMPLES: dict[str, list[str]] = {
    "key": ["azure.subscription_id"], "file": ["/home/op/jhub/jhubctl.yaml"], "program": ["helm"],
    "url": ["https://helm.sh/docs/intro/install/"],
    "check": ["helm version --short", "docker buildx version", "kubectl version --client"],
    "command": sorted({*local.STEP_COMMANDS.values(), "provision", "deploy-hub", "up"}),
    "mode": ["600", "700"], "path": ["/home/op/jhub/.jhubctl/secrets.json"],
    "tenant": ["", " --tenant 72f988bf-86f1-41af-91ab-2d7cd011db47"],
    "only": [only(step) for step in STEPS] + [only("network", "storage"), only("aks", "csi-driver"), ""],
    "group": ["jhub-rg"], "cluster": ["jhub-aks"], "ip": ["203.0.113.7/32"], "namespace": ["jhub"],
    "secret": ["acr-pull"], "context": ["", " --context jhub-aks"], "node": ["aks-nodepool1-0"],
    "pod": ["jupyter-user1--c1"], "service": ["proxy-public"], "platform": ["linux/amd64"],
    "driver": ["blob.csi.azure.com"], "release": ["jhub"], "version": ["3.1.0"],
    "target": ["hub", "proxy", "culler", "user1 c1", "'user-1' c1"], "module": ["jupyterhub_idle_culler"],
    "image": ["registry.example:5000/singleuser:3.1.0"], "host": ["registry.example:5000"], "count": ["6"],
    "user": ["user1"], "conversation": ["c1"],
}


def every_fix() -> list[tuple[str, str]]:
    out = []
    for name, template in FIXES.items():
        fields = sorted({f for _, f, _, _ in string.Formatter().parse(template) if f})
        assert set(fields) <= set(SAMPLES), f"{name}: no sample for {set(fields) - set(SAMPLES)}"
        for values in itertools.product(*(SAMPLES[f] for f in fields)):
            out.append((name, fix(name, **dict(zip(fields, values, strict=True)))))
    return out


def commands(text: str) -> list[list[str]]:
    found = re.findall(r"`([^`]+)`", text)
    assert found, f"names no command: {text}"
    return [shlex.split(command) for command in found]


def jhubctl(args: list[str]) -> None:
    """Parse as the real CLI would (unknown commands, options or values raise); nothing runs."""
    from jhubctl.cli import app

    root = typer.main.get_command(app)
    ctx = root.make_context("jhubctl", list(args))
    rest = [*ctx._protected_args, *ctx.args]
    command = root
    while rest and hasattr(command, "resolve_command"):
        name, command, rest = command.resolve_command(ctx, rest)
        ctx = command.make_context(name, rest, parent=ctx)
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
    assert command is not root, f"no command in {args}"
    assert not rest, f"{args}: left over {rest}"
    if command.name == "provision":
        assert set(ctx.params["only"] or []) <= set(STEPS), args


KUBECTL = {"get", "describe", "delete", "patch", "version"}
HELM = {"rollback": 1, "uninstall": 1, "version": 0}
AZ = {("login",), ("account", "list"), ("aks", "start"), ("network", "public-ip", "list")}
#: Options of these programs that take no value.
FLAGS = {"--short", "--client"}


def positionals(args: list[str]) -> list[str]:
    """The words that are not options or an option's value (`--namespace jhub`, `--type merge`)."""
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = "=" not in arg and arg not in FLAGS
        else:
            out.append(arg)
    return out


def well_formed(argv: list[str]) -> None:
    program, args = argv[0], argv[1:]
    words = positionals(args)
    if program == "jhubctl":
        jhubctl(args)
    elif program == "kubectl":
        assert words and words[0] in KUBECTL, argv
        if words[0] == "patch":
            assert args[args.index("--type") + 1] == "merge"
            json.loads(args[args.index("--patch") + 1])
        if words[0] in ("describe", "delete") and words[1] != "node":
            assert "--namespace" in args, argv
        if words[0] in ("describe", "delete", "patch"):
            assert len(words) == 3, argv  # verb, kind, name
    elif program == "helm":
        assert words[0] in HELM and len(words) == 1 + HELM[words[0]], argv
        if HELM[words[0]]:
            assert "--namespace" in args, argv
    elif program == "az":
        assert tuple(words) in AZ, argv
        if tuple(words) == ("aks", "start"):
            assert {"--resource-group", "--name"} <= set(args)
    elif program == "chmod":
        assert re.fullmatch(r"[0-7]{3}", args[0]) and args[1].startswith("/")
    elif program == "pip":
        assert words[0] == "install" and len(words) == 2
    elif program == "docker":
        assert words == ["buildx", "version"]
    else:
        raise AssertionError(f"unknown program in a fix: {argv}")


@pytest.mark.parametrize(("name", "text"), every_fix(), ids=lambda v: v if isinstance(v, str) and len(v) < 30 else "")
def test_every_fix_names_a_command_that_exists(name: str, text: str) -> None:
    for argv in commands(text):
        well_formed(argv)


def test_a_command_that_does_not_exist_is_caught() -> None:
    """The check above can fail: a renamed command or option is refused."""
    for argv in (["jhubctl", "deploy-hubs"], ["jhubctl", "provision", "--onlyy", "x"], ["jhubctl", "provision", "--only",
                                                                                     "nope"], ["kubectl", "destroy"]):
        with pytest.raises(Exception):  # noqa: B017 - click's and assert's errors alike
            well_formed(argv)


def test_checks_build_fixes_only_from_the_catalogue_and_use_all_of_it() -> None:
    source = "\n".join(p.read_text() for p in [*(SRC / "diagnose").glob("*.py"), SRC / "cli" / "diagnose_cmd.py"])
    used = set(re.findall(r'\bfix\(\s*"([\w-]+)"', source))
    assert used <= set(FIXES), used - set(FIXES)
    assert set(FIXES) - used == set(), f"templates no check uses: {set(FIXES) - used}"
    assert not re.search(r'fail\([^)]*,\s*"[^"]*`', source), "a fix written outside the catalogue"
