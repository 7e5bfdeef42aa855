"""jhubctl: operate a JupyterHub code-interpreter backend, from an empty subscription to running servers.

Kept import-free: the hub image copies `jhubctl/spawner/` with this file beside it, and `jhubctl --help`
must stay fast.
"""

__version__ = "0.1.0"
