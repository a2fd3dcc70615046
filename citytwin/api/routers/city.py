"""`/city`: the city record (name, time zone, CRS, grid cell size, model step) with its boundary."""

from fastapi import APIRouter, Response

from citytwin.api.deps import ConnDep, SettingsDep
from citytwin.api.formats import feature, json_response
from citytwin.core.city import with_settings
from citytwin.db.city import fetch_city
from citytwin.errors import CityNotImported

router = APIRouter(tags=["city"])


@router.get("/city", summary="The city record and its boundary")
async def get_city(conn: ConnDep, settings: SettingsDep) -> Response:
    """A GeoJSON Feature: the boundary (EPSG:4326) with the city's name, IANA time zone, metric
    CRS, grid cell size (m), model step (s) and attribution, as the service uses them (the
    settings' overrides applied). 404 before a city is imported."""
    city = await fetch_city(conn)
    if city is None:
        raise CityNotImported
    city = with_settings(city, settings)
    geometry = city.boundary.__geo_interface__
    return json_response(
        feature(geometry, city.as_properties(), city.name), media_type="application/geo+json"
    )
