"""schemathesis over every operation of a live server with the API key: no 5xx, no status code
and no media type the OpenAPI document does not declare."""

import asyncio
import sys
from pathlib import Path

from citytwin.api.app import create_app
from tests.factories import API_KEY
from tests.live_server import serve

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance"


async def test_every_operation_keeps_the_contract(settings, demo_city):
    app = create_app(settings)
    operations = sum(len(methods) for methods in app.openapi()["paths"].values())
    async with serve(app) as url:
        run = await asyncio.create_subprocess_exec(
            str(SCHEMATHESIS),
            "run",
            f"{url}/openapi.json",
            "--header",
            f"X-API-Key: {API_KEY}",
            "--checks",
            CHECKS,
            "--phases",
            "examples,fuzzing",
            "--max-examples",
            "3",
            "--workers",
            "2",
            "--suppress-health-check",
            "all",
            "--seed",
            "14",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(run.communicate(), 300)
    report = output.decode()
    # A check that failed is listed under "Failures:" (schemathesis' own runtime errors, which
    # it lists apart, say nothing about the API).
    assert "Failures:" not in report, report[-6000:]
    assert f"Tested: {operations}" in report, report[-3000:]
