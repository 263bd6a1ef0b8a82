"""``python -m vidact``: the same command line as ``vidact`` (used by DDP launchers too)."""

from vidact.cli.main import app

app(prog_name="vidact")
