"""The JSON-LD `@context` of citytwin's NGSI-LD entities, held in the package (nothing is fetched
at run time): the NGSI-LD core context by name, and the Smart Data Models terms citytwin maps
(entity types and their attributes) with their full IRIs. Entities sent with expanded IRIs are
compacted with the same terms, so `https://smartdatamodels.org/dataModel.Environment/no2` and
`no2` name one attribute. Pure data and functions, no I/O."""

from citytwin.feeds.smart_data_models import ENTITY_TYPES

CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld"
CORE_VOCABULARY = "https://uri.etsi.org/ngsi-ld/"
DEFAULT_VOCABULARY = "https://uri.etsi.org/ngsi-ld/default-context/"
SMART_DATA_MODELS = "https://smartdatamodels.org/"
# The Smart Data Models subject of each entity type citytwin maps.
SUBJECTS = {
    "AirQualityObserved": "dataModel.Environment",
    "TrafficFlowObserved": "dataModel.Transportation",
    "ACMeasurement": "dataModel.Energy",
}
# Terms every Smart Data Model shares (its common properties), in the models' root namespace.
COMMON_TERMS = ("name", "dateObserved", "dateObservedFrom", "dateObservedTo", "address")
CONTEXT_NAME = "citytwin"


def _terms() -> dict[str, str]:
    terms = {term: f"{SMART_DATA_MODELS}{term}" for term in COMMON_TERMS}
    for kind, (_, attributes) in ENTITY_TYPES.items():
        namespace = f"{SMART_DATA_MODELS}{SUBJECTS[kind]}/"
        terms[kind] = f"{namespace}{kind}"
        terms |= {attribute: f"{namespace}{attribute}" for attribute in attributes}
    return terms


TERMS = _terms()
COMPACT = {iri: term for term, iri in TERMS.items()}


def context_document() -> dict:
    """The context answers refer to: the core context, then citytwin's terms."""
    return {"@context": [CORE_CONTEXT, TERMS]}


def compact(name: str) -> str:
    """A member or type name as citytwin's term: a known IRI, one in the NGSI-LD core or
    default vocabulary, or the name itself."""
    if name in COMPACT:
        return COMPACT[name]
    for vocabulary in (DEFAULT_VOCABULARY, CORE_VOCABULARY):
        if name.startswith(vocabulary):
            return name.removeprefix(vocabulary)
    return name


def compact_entity(entity: dict) -> dict:
    """`entity` with its member names and type compacted (values untouched)."""
    document = {compact(name): member for name, member in entity.items()}
    if isinstance(document.get("type"), str):
        document["type"] = compact(document["type"])
    return document
