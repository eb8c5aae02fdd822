"""Choose one setting of the recipe on validation data, the same rule for every row.

    python scripts/recipe_screen.py --setting=kl_warmup_epochs runs/screen/warmup*
    python scripts/recipe_screen.py \
        --setting=learning_rate_schedule,top_down_units,batch_norm,dropout runs/recipe/*

Each folder is a `tfgvae-compare` output (`scripts/recipe_screen.sh` and
`scripts/recipe_screen_v4.sh` make them) whose runs differ from the other folders' in
`--setting` only (several settings, comma-separated: a recipe is their values together),
scored on a validation split (never the test split: a folder scored on a test split is
refused). Every value's score is the
mean, over the rows, of the rows' LL (mean over seeds); the value with the highest score
is chosen, among the values whose runs cover every row (a screen still running shows the
others unscored). Beside it, each row's LL at every value minus its LL at the
chosen value, paired by seed and image (± SE over seeds, or over images for one seed,
with the Student-t interval of `table1.paired_difference`), so a choice that the noise
cannot tell apart from another says so. Prints a Markdown table and, on the last line,
`<setting>=<value>`.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

from tf_graphvae.config import EXECUTION_FIELDS, RunFolder, TrainConfig


def read_screen(folders: list[str], setting: str) -> dict:
    """`{value: {row: [eval records]}}` of every finished run in `folders`; with several
    settings (`"a,b"`) a value is the tuple of their values."""
    names = setting.split(",")
    screen: dict = defaultdict(lambda: defaultdict(list))
    firsts: dict[str, TrainConfig] = {}  # per row, its first run (no other setting may differ)
    for folder in folders:
        for path in sorted(Path(folder, "runs").glob("*-seed*")):
            run = RunFolder(path)
            if not run.eval_file.exists():
                continue
            record = run.read_json(run.EVAL)
            config = TrainConfig.from_json(record["config"])
            if "@val" not in config.test_split:
                raise ValueError(
                    f"{path} was scored on {config.test_split!r}, not a validation split: "
                    "settings are chosen on validation data."
                )
            flat = config.flat()
            unknown = [name for name in names if name not in flat]
            if unknown:
                raise ValueError(f"Unknown setting {', '.join(map(repr, unknown))}.")
            row = path.name.rsplit("-seed", 1)[0]
            ignore = (*names, "seed", *EXECUTION_FIELDS)
            changed = sorted(firsts.setdefault(row, config).differences(config, ignore))
            if changed:
                raise ValueError(f"{path} differs from the other {row} runs in {changed}.")
            values = tuple(_key(flat[name]) for name in names)
            screen[values[0] if len(values) == 1 else values][row].append(record)
    if not screen:
        raise ValueError(f"No finished run (runs/<row>-seed<k>/eval.json) in {folders}.")
    return screen


def _ordered(screen: dict) -> list:
    """The screen's values in their order (None last), by their text where they mix types."""
    try:
        return sorted(screen, key=lambda v: (v is None, v))
    except TypeError:
        return sorted(screen, key=str)


def _key(value):
    return tuple(value) if isinstance(value, list) else value


def choose(screen: dict) -> tuple:
    """The value with the best mean over rows of the rows' mean LL, and every score.

    Only the values whose runs cover every row of the screen are scored (a mean over fewer
    rows is not comparable); the others score None."""
    rows = {row for by_row in screen.values() for row in by_row}
    scores = {
        value: float(np.mean([np.mean([r["metrics"]["ll"] for r in recs])
                              for recs in by_row.values()]))
        if set(by_row) == rows else None
        for value, by_row in screen.items()
    }  # fmt: skip
    complete = {value: score for value, score in scores.items() if score is not None}
    if not complete:
        raise ValueError(f"No value of the screen has finished runs of every row {sorted(rows)}.")
    return max(complete, key=complete.get), scores


def markdown(screen: dict, setting: str, chosen, scores: dict) -> str:
    from tf_graphvae.trainers.paper.table1 import paired_difference

    rows = sorted({row for by_row in screen.values() for row in by_row})
    lines = [
        f"| {setting} | " + " | ".join(f"{r}: LL, − chosen (paired)" for r in rows)
        + " | mean LL over rows |",
        "|---|" + "---|" * (len(rows) + 1),
    ]  # fmt: skip
    for value in _ordered(screen):
        cells = []
        for row in rows:
            recs = screen[value].get(row, [])
            if not recs:
                cells.append("—")
                continue
            ll = np.mean([r["metrics"]["ll"] for r in recs])
            diff = paired_difference(recs, screen[chosen].get(row, []))
            if value == chosen or not diff:
                cells.append(f"{ll:.2f}")
            else:
                low, high = diff["ci95"]
                cells.append(f"{ll:.2f}, {diff['mean']:+.2f} [{low:+.2f}, {high:+.2f}]")
        mark = " (chosen)" if value == chosen else ""
        score = "not every row: not scored" if scores[value] is None else f"{scores[value]:.2f}"
        lines.append(f"| {value}{mark} | " + " | ".join(cells) + f" | {score} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setting", required=True, help="The setting screened.")
    parser.add_argument("folders", nargs="+", help="tfgvae-compare outputs, one per value.")
    args = parser.parse_args(argv)
    screen = read_screen(args.folders, args.setting)
    chosen, scores = choose(screen)
    print(markdown(screen, args.setting, chosen, scores))
    print(f"\n{args.setting}={chosen}")


if __name__ == "__main__":
    main()
