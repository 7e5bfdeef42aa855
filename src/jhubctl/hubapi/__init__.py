"""Talking to a JupyterHub: its REST API, the user servers behind its proxy, and kernels."""
