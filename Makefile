# The two quick-start commands: `make demo` and `make test`. Each does all set-up first.
.PHONY: setup demo test lint bench db-stop

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/citytwin demo

test:
	@bash scripts/setup.sh --browser
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports
	.venv/bin/pytest

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/lint-imports

bench:
	@bash scripts/setup.sh --bench
	.venv/bin/python bench/ingest.py
	.venv/bin/python bench/cells.py
	.venv/bin/python bench/standards.py
	.venv/bin/python bench/simulate.py
	.venv/bin/python bench/tiles.py
	.venv/bin/python bench/tile_throughput.py
	.venv/bin/python bench/stream.py
	.venv/bin/python bench/mixed_load.py
	.venv/bin/python bench/memory.py
	.venv/bin/python bench/skill.py
	.venv/bin/python bench/scale.py

db-stop: setup
	.venv/bin/citytwin db stop
