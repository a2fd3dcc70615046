"""`bench/scale.py` refuses a store larger than the disk before it starts, naming the size."""

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"


def test_a_store_larger_than_the_disk_is_refused_naming_the_size():
    done = subprocess.run(
        [sys.executable, "scale.py", "--readings", str(10**15)],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "a store of 1,000,000,000,000,000 readings needs about 400000000.0 GB" in done.stderr
    assert "GB are free" in done.stderr
