"""The embedded local target: a real JupyterHub on 127.0.0.1, configured like the cluster hub."""
