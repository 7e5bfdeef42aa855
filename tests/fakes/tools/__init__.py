"""Recording stand-ins for the programs jhubctl runs (helm, docker), put on PATH by tests.

Each stub is a small Python program (:mod:`.helm_stub`, :mod:`.docker_stub`) started through a shell
wrapper that names its state folder. It appends one JSON line per call to ``calls.jsonl`` there: the argv,
the *names* of its environment variables (never their values), and what it was handed (the values file's
mode and text; for stdin only a sha256). A ``state.json`` beside it holds what the real program would
know (helm repositories and releases, images in the registry) and scripted failures, so the stubs answer
``helm list``, ``helm repo list``, ``docker buildx imagetools inspect`` ... like the real ones, refuse what
they refuse, and can simulate a pending release or a failed install. See :mod:`.fixtures`.
"""
