"""Print a pip constraints file pinning each runtime dependency of pyproject.toml to its declared floor.

CI installs the project against it in a second venv, so a floor that is too low fails a test instead of
a user's install (azure-mgmt-resource < 26 broke every PUT while `>=23` allowed it).
"""

import re
import sys
import tomllib
from pathlib import Path

project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
for requirement in project["dependencies"]:
    spec = requirement.split(";", 1)[0].strip()
    match = re.fullmatch(r"([A-Za-z0-9_.\[\]-]+?)(?:\[[^\]]*\])?\s*(>=|==)\s*([^,\s]+)(?:\s*,\s*<\s*[^,\s]+)?", spec)
    if match is None:
        sys.exit(f"no floor to pin in {requirement!r}: declare one with >= or ==")
    print(f"{match.group(1)}=={match.group(3)}")
