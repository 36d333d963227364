"""Run every benchmark in ``bench/``, one after the other, each in its own process.

    .venv/bin/python bench/run_all.py [--quick]

``--quick`` runs the person search and the one-table report at 100,000 residents and
the data hub import at 20,000 rows instead of 1,000,000 each. The policy matching
benchmark reuses the database the person search seeded (one seed of the million serves
both) and drops it afterwards. The data hub import runs with ``--kill`` (a child import
killed after its first batches, then resumed) and drops its scratch database itself.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    runs = [
        ["seed_county.py"],
        ["person_search.py", *(["--residents", "100000"] if args.quick else [])],
        ["policy_match.py", "--reuse", "--drop"],
        ["case_intake.py"],
        ["case_indicators.py"],
        ["iot_ingest.py", "--drop"],
        ["crawl.py", "--db", "sqlite"],
        ["crawl.py", "--db", "postgres"],
        ["report_table.py", "--drop", *(["--residents", "100000"] if args.quick else [])],
        ["hub_import.py", "--kill", *(["--rows", "20000"] if args.quick else [])],
    ]
    failed = []
    for script, *rest in runs:
        print(f"\n=== {script} {' '.join(rest)}", flush=True)
        code = subprocess.call([sys.executable, str(HERE / script), *rest], cwd=HERE.parent)
        if code:
            failed.append(script)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
