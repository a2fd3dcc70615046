"""The OpenAPI 3.1 → 3.0 restatement, on the constructs FastAPI writes."""

from citytwin.api.openapi30 import downgrade


def test_nullable_unions_consts_examples_and_exclusive_bounds():
    document = {
        "openapi": "3.1.0",
        "components": {
            "schemas": {
                "A": {
                    "properties": {
                        "name": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                        "ref": {"anyOf": [{"$ref": "#/components/schemas/B"}, {"type": "null"}]},
                        "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                        "kind": {"const": "Feature", "type": "string"},
                        "size": {"type": "number", "exclusiveMinimum": 0, "examples": [5]},
                        "many": {"type": ["integer", "null"]},
                    }
                }
            }
        },
    }
    props = downgrade(document)["components"]["schemas"]["A"]["properties"]
    assert downgrade(document)["openapi"] == "3.0.3"
    assert props["name"] == {"type": "string", "nullable": True}
    assert props["ref"] == {"allOf": [{"$ref": "#/components/schemas/B"}], "nullable": True}
    assert props["either"] == {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    assert props["kind"] == {"enum": ["Feature"], "type": "string"}
    assert props["size"] == {"type": "number", "minimum": 0, "exclusiveMinimum": True, "example": 5}
    assert props["many"] == {"type": "integer", "nullable": True}
