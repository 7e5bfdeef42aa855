"""Plumbing shared by the fake servers: the TLS server and request pipeline (:mod:`.server`), the
request log (:mod:`.log`), fault injection (:mod:`.faults`) and pytest fixture helpers (:mod:`.fixtures`).
Each fake (``arm``, ``kube``, ``graph``) adds its own domain logic on top.
"""
