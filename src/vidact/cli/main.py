"""The ``vidact`` command: one thin command per file, each over one library function."""

from __future__ import annotations

import typer

from vidact.cli import cache, dataset
from vidact.cli.compare import compare
from vidact.cli.crossval import crossval
from vidact.cli.demo import demo
from vidact.cli.ensemble import ensemble
from vidact.cli.evaluate import evaluate
from vidact.cli.export import export
from vidact.cli.models import models
from vidact.cli.predict import predict
from vidact.cli.report import report
from vidact.cli.score_timeline import score_timeline
from vidact.cli.serve import serve
from vidact.cli.synth import synth
from vidact.cli.train import train
from vidact.cli.watch import watch

app = typer.Typer(
    help="vidact: recognise human activities in video (per-frame CNN + temporal model).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("demo")(demo)
app.command("synth")(synth)
app.command("train")(train)
app.command("evaluate")(evaluate)
app.command("compare")(compare)
app.command("crossval")(crossval)
app.command("ensemble")(ensemble)
app.command("report")(report)
app.command("predict")(predict)
app.command("score-timeline")(score_timeline)
app.command("watch")(watch)
app.command("serve")(serve)
app.command("models")(models)
app.command("export")(export)
app.add_typer(dataset.app, name="dataset")
app.add_typer(cache.app, name="cache")
