"""Where the shared data set lives: ``shared/`` beside the checkout (as in CI), else the
workplace's copy."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_file(relative: str) -> Path:
    for base in (os.environ.get("TOUCHFLOW_SHARED_DIR"), REPO.parent / "shared", "/work/shared"):
        if base and (Path(base) / relative).exists():
            return Path(base) / relative
    return REPO.parent / "shared" / relative


ONLINE_RETAIL = shared_file("data/online_retail_2010_2011.csv.gz")
