"""`jhubctl diagnose`: the checks an expert runs on a deployment, cheap and local first, each saying what it
saw and one way to fix it. Findings and the runner live here; one module per area holds its checks.
"""
