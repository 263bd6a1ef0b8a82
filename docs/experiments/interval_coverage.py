"""How often vidact's 95% interval over groups holds the true top-1, by how many groups the test
set has (docs/measurements.md, "Intervals over few groups").

Simulated test sets: G groups (sources, people) of 1 to 20 videos each, each group with its own
accuracy drawn around 0.75 (a beta distribution with spread ``sd`` between groups: a camera or a
person is easier or harder), each video right with its group's accuracy. For each set,
``group_bootstrap`` (1000 draws) gives the interval of the pooled top-1; the share of sets whose
interval holds 0.75, the figure on other groups of the kind, is its coverage. A percentile
cluster bootstrap is too narrow with few groups: the few drawn cannot show how much groups vary.

    python docs/experiments/interval_coverage.py
"""

from __future__ import annotations

import logging

import numpy as np

from vidact.evaluation.metrics import group_bootstrap, interval

TRUE_TOP1 = 0.75
GROUPS = (2, 3, 5, 8, 10, 15, 19, 30)
SETS = 1000  # simulated test sets per point


def holds(rng: np.random.Generator, groups: int, sd: float) -> bool:
    """Whether one simulated test set's interval holds the true top-1."""
    sizes = rng.integers(1, 21, groups)
    strength = TRUE_TOP1 * (1 - TRUE_TOP1) / sd**2 - 1
    accuracy = rng.beta(TRUE_TOP1 * strength, (1 - TRUE_TOP1) * strength, groups)
    correct = np.concatenate([rng.random(n) < a for n, a in zip(sizes, accuracy, strict=True)])
    names = np.repeat(np.arange(groups).astype(str), sizes)
    draws = group_bootstrap(correct, names, draws=1000, seed=int(rng.integers(2**31)))
    low, high = interval(draws[0])
    return low <= TRUE_TOP1 <= high


def main() -> None:
    logging.getLogger("vidact.evaluation.metrics").setLevel(logging.ERROR)  # few groups: known
    rng = np.random.default_rng(0)
    for sd in (0.1, 0.2):
        shares = [np.mean([holds(rng, g, sd) for _ in range(SETS)]) for g in GROUPS]
        shown = ", ".join(f"{g}: {s:.2f}" for g, s in zip(GROUPS, shares, strict=True))
        print(f"spread between groups {sd}: coverage by groups {shown}", flush=True)


if __name__ == "__main__":
    main()
