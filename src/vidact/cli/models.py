"""vidact models: the backbones and temporal heads vidact can build, with parameter counts."""

from __future__ import annotations

import json

import typer

from vidact.cli.common import friendly_errors
from vidact.models.catalog import backbone_rows, head_rows


@friendly_errors
def models(
    num_classes: int = typer.Option(101, help="Classes, for the classifier's parameter count."),
    features: int = typer.Option(1280, help="Frame feature size the heads read (lite0: 1280)."),
    filter: str | None = typer.Option(
        None, help="List timm backbones matching this pattern instead, e.g. '*mobilenet*'."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List backbones (marking offline ImageNet weights) and heads with parameter counts."""
    backbones = backbone_rows(filter)
    heads = [] if filter else head_rows(features, num_classes)
    if as_json:
        typer.echo(json.dumps({"backbones": backbones, "heads": heads}, indent=2))
        return
    typer.echo("backbones" + (f" matching {filter!r}" if filter else ""))
    name_width = max((len(row["name"]) for row in [*backbones, *heads]), default=12)
    weights_width = max((len(row["weights"]) for row in backbones), default=22)
    for row in backbones:
        sizes = (
            f"{row['parameters'] / 1e6:7.2f} M params  {row['features']:5d} features  "
            f"{row['input_size']} px"
            if "parameters" in row
            else ""
        )
        typer.echo(f"  {row['name']:<{name_width}}  {row['weights']:<{weights_width}}  {sizes}")
    if heads:
        typer.echo(f"heads (on {features} features, classifier for {num_classes} classes)")
        for row in heads:
            order = "order-aware" if row["order_aware"] else "order-free"
            size = f"{row['parameters'] / 1e6:7.3f} M params"
            typer.echo(f"  {row['name']:<{name_width}}  {order:<12} {size}")
