"""Rewrite the knock-out records of earlier versions under their present name and wording.

    python scripts/rename_knockout_records.py results

Runs before the structure review wrote `edge_values_<suffix>.json/.md/.png`, whose table
called a knock-out value above 2 SE "supported". For every `edge_values_<suffix>.json`
below the folder this writes `knockout_values_<suffix>.json/.md/.png` from the same numbers
with today's caption, table and figure (`scoring.write_knockout_files`), then removes the
three old files. The values themselves are not recomputed. The figure's title is the old
table's caption up to its first colon (e.g. "mnist, learned structure, seed 0").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tf_graphvae import scoring


def rename(folder: str | Path) -> list[Path]:
    """Rewrites every old record below `folder`; returns the new JSON files."""
    written = []
    for old in sorted(Path(folder).rglob("edge_values_*.json")):
        suffix = old.stem.removeprefix("edge_values_")
        old_md = old.with_suffix(".md")
        title = old_md.read_text().split(":", 1)[0] if old_md.exists() else old.parent.name
        values = json.loads(old.read_text())
        if "edge_probabilities" not in values:
            raise ValueError(f"{old} has no edge_probabilities; it cannot be rewritten.")
        scoring.write_knockout_files(values, old.parent, suffix, title)
        for path in (old, old_md, old.with_suffix(".png")):
            path.unlink(missing_ok=True)
        written.append(old.parent / f"knockout_values_{suffix}.json")
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="The folder searched for edge_values_*.json.")
    args = parser.parse_args(argv)
    for path in rename(args.folder):
        print(path)


if __name__ == "__main__":
    main()
