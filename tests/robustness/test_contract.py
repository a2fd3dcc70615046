"""schemathesis over every operation of a live server with the API key: no 5xx, no status code,
media type, body or header the OpenAPI document does not declare."""

import asyncio
import sys
from pathlib import Path

from citytwin.api.app import create_app
from tests.factories import API_KEY
from tests.live_server import serve

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",  # error bodies are the declared Error
        "response_headers_conformance",
    )
)


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


def test_the_document_declares_keys_bodies_and_each_error_shape(settings):
    document = create_app(settings).openapi()
    upload = document["paths"]["/feeds/{feed}/readings"]["post"]
    assert upload["security"] == [{"ApiKey": []}, {"Basic": []}]
    assert {"401", "403", "405", "408", "413", "429", "503"} <= set(upload["responses"])
    assert "text/csv" in upload["requestBody"]["content"]
    diff = document["paths"]["/layers/{layer_id}/diff"]
    assert "security" not in diff["get"] and diff["post"]["security"]
    assert diff["post"]["responses"]["507"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert set(diff["get"]["responses"]["200"]["content"]) == {
        "application/json",
        "application/prs.coverage+json",
        "application/x-netcdf",
    }
    # SensorThings reads answer OData errors, its pushes the service's own.
    sta = document["paths"]["/v1.1/{resource}"]["get"]["responses"]["404"]["content"]
    assert sta["application/json"]["schema"]["anyOf"][0]["required"] == ["error"]
    push = document["paths"]["/v1.1/Observations"]["post"]["responses"]["404"]["content"]
    assert push["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
