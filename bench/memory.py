"""Server memory under an all-rejected body: the peak resident growth while the API answers a
CSV body of `--mib` MiB (250) whose every row is rejected, against the same kind of body of
`--small-mib` MiB (64, already read in the largest pieces) in the same run. Each body is
posted in a fresh process of its own (bench/memory_probe.py), streamed by a client that never
holds it whole, so the growth is the server's. Memory that followed the body would grow with
the ratio of the sizes.
"""

import asyncio
import subprocess
import sys
from pathlib import Path

import orjson
from common import figures_parser, print_figures
from rich.console import Console
from rich.table import Table

from citytwin.cli import prepare_store
from citytwin.settings import Settings

DATABASE = "citytwin_bench_memory"
PROBE = Path(__file__).with_name("memory_probe.py")
console = Console()


def probe(url: str, mib: int) -> dict:
    """The figures of one body of `mib` MiB, posted in a process of its own."""
    done = subprocess.run(
        [sys.executable, str(PROBE), url, str(mib)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    figures = orjson.loads(done.stdout.splitlines()[-1])
    figures["growth_mib"] = round(figures["after_mib"] - figures["before_mib"], 1)
    return figures


def report_table(runs: list[dict]) -> None:
    table = Table(title="Peak server memory growth under an all-rejected CSV body")
    for column in ("body", "rows", "seconds", "peak growth", "answer", "rejected listed/total"):
        table.add_column(column, justify="right")
    for run in runs:
        table.add_row(
            f"{run['body_mib']} MiB",
            f"{run['rows']:,}",
            str(run["seconds"]),
            f"{run['growth_mib']} MiB",
            f"{run['answer_bytes'] / 1024:.0f} KiB",
            f"{run['rejected_listed']:,} / {run['rejected_total']:,}",
        )
    console.print(table)
    small, large = runs
    console.print(
        f"body ×{large['body_mib'] / small['body_mib']:.1f}, "
        f"peak growth ×{large['growth_mib'] / small['growth_mib']:.2f}"
    )


def main() -> None:
    """Parse arguments and run the benchmark."""
    parser = figures_parser(__doc__)
    parser.add_argument("--mib", type=int, default=250, help="size of the body measured")
    parser.add_argument("--small-mib", type=int, default=64, help="size of the baseline body")
    args = parser.parse_args()
    url = asyncio.run(prepare_store(Settings().updated(pg_database=DATABASE)))
    runs = [probe(url, args.small_mib), probe(url, args.mib)]
    report_table(runs)
    print_figures({"memory": {"small": runs[0], "large": runs[1]}}, args.json)


if __name__ == "__main__":
    main()
