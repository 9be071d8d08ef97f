"""Write the bonus CSV that ships in the package: 1,000 synthetic employees and their bonuses.

The rule (the one source of truth is ``torchbasics.tabular.bonus``, imported below)::

    years_experience   ~ Gamma(shape 2, scale 4), rounded to 0.1, at most 40
    projects_completed ~ Poisson(2 + 1.5 · years)           (grows with experience)
    performance_rating ~ Normal(5.5 + 0.05 · years, 1.8), rounded, clipped to 1..10
    bonus = 2,000 + 500·rating + 200·years + 50·projects + Normal(0, 400), to the cent

with ``numpy.random.default_rng(20240521)``; the same seed writes the same file, byte for
byte. By default it writes ``src/torchbasics/resources/bonus.csv`` of this repository, the
file the package ships (``torchbasics train --dataset bonus`` reads it from wherever the
package is installed); ``tests/tabular/test_bonus_data.py`` checks the two agree.

The true values (``TRUE_FORMULA``, ``NOISE_STD``, ``SEED``) are importable from
``torchbasics.tabular.bonus``, and training reports compare the learned formula with them.

Examples::

    .venv/bin/python scripts/make_bonus_data.py                  # the shipped CSV
    .venv/bin/python scripts/make_bonus_data.py --rows 50000 --seed 1 --out big.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

from torchbasics.files import write_text
from torchbasics.tabular.bonus import (
    NOISE_STD,
    ROWS,
    SEED,
    TRUE_FORMULA,
    bonus_csv,
    generate_bonus,
)

REPOSITORY = Path(__file__).resolve().parents[1]
SHIPPED = REPOSITORY / "src" / "torchbasics" / "resources" / "bonus.csv"


def main(argv: list[str] | None = None) -> None:
    """Generate the table and write it atomically."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=SHIPPED,
                        help="CSV to write (default: src/torchbasics/resources/bonus.csv, the "
                        "file the package ships)")
    parser.add_argument("--rows", type=int, default=ROWS, help=f"employees (default: {ROWS})")
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default: {SEED})")
    args = parser.parse_args(argv)
    write_text(args.out, bonus_csv(generate_bonus(args.rows, args.seed)))
    print(f"wrote {args.rows:,} rows to {args.out}")
    print(f"true rule: {TRUE_FORMULA} + Normal(0, {NOISE_STD:g})")


if __name__ == "__main__":
    main()
