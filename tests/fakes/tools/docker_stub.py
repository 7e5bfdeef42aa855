"""A stand-in for docker with buildx, as far as jhubctl uses it (see the package docstring).

Answers ``buildx version``, ``login --password-stdin`` (records only a sha256 of what came on stdin),
``buildx imagetools inspect REF`` (0 when the registry "has" it, else docker's ``not found``) and
``buildx build --platform P --tag REF --push --file F CONTEXT`` (records the context's files and the
Dockerfile, then "pushes" REF). State (``state.json``): ``pushed``: ref -> {platform, digest};
``fail_next_build``: lines the next build prints before it fails; ``no_buildx``: buildx is missing.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import digest, fail, option, positionals, record, state  # noqa: E402

WITH_VALUE = {"--platform", "--tag", "-t", "--file", "-f", "--username", "-u"}


def main() -> None:
    args = sys.argv[1:]
    words = positionals(args, WITH_VALUE)
    if words[:1] == ["login"]:
        secret = sys.stdin.read() if "--password-stdin" in args else ""
        record("docker", stdin_sha256=digest(secret) if secret else None)
        with state() as s:
            s.setdefault("logins", []).append({"server": words[1], "username": option(args, "--username", "-u")})
        print("Login Succeeded")
        return
    if words[:2] == ["buildx", "build"]:
        build(args, words)
        return
    record("docker")
    with state() as s:
        no_buildx, pushed = s.get("no_buildx"), s.get("pushed") or {}
    if words[:1] == ["buildx"] and no_buildx:
        fail("docker: 'buildx' is not a docker command.\nSee 'docker --help'")
    if words[:2] == ["buildx", "version"]:
        print("github.com/docker/buildx v0.12.1 30feaa1")
    elif words[:3] == ["buildx", "imagetools", "inspect"]:
        ref = words[3]
        if ref not in pushed:
            fail(f"ERROR: {ref}: not found")
        print(f"Name:      {ref}\nMediaType: application/vnd.oci.image.index.v1+json\nDigest:    {pushed[ref]['digest']}\n")
        print(f"Manifests:\n  Name:      {ref}@{pushed[ref]['digest']}\n  Platform:  {pushed[ref]['platform']}")
    else:
        fail(f"docker: '{' '.join(words)}' is not a docker command.")


def build(args: list[str], words: list[str]) -> None:
    context = Path(words[2])
    dockerfile = Path(option(args, "--file", "-f") or context / "Dockerfile")
    files = sorted(str(p.relative_to(context)) for p in context.rglob("*") if p.is_file()) if context.is_dir() else []
    record("docker", context_files=files, dockerfile=dockerfile.read_text() if dockerfile.is_file() else None)
    ref, platform = option(args, "--tag", "-t"), option(args, "--platform")
    if not dockerfile.is_file():
        fail(f"ERROR: failed to solve: failed to read dockerfile: open {dockerfile}: no such file or directory")
    with state() as s:
        failure = s.pop("fail_next_build", None)
        if failure is None and "--push" in args:
            content = "".join(Path(context, f).read_text() for f in files)
            s.setdefault("pushed", {})[ref] = {"platform": platform,
                                               "digest": "sha256:" + hashlib.sha256(content.encode()).hexdigest()}
    print("#1 [internal] load build definition from Dockerfile")
    print(f"#2 [internal] load metadata for {dockerfile.read_text().split('FROM ', 1)[1].split()[0]}")
    if failure is not None:
        for line in failure:
            print(line)
        fail("ERROR: failed to solve: process \"/bin/sh -c python3 -c ...\" did not complete successfully: exit code: 1")
    print(f"#9 pushing {ref} with docker-container driver done")


if __name__ == "__main__":
    main()
