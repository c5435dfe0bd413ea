"""Request metrics are labelled by route template, whether the route sits on the app or on a router."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry

from services.shared.http import instrument


async def test_requests_are_counted_by_route_template_not_by_raw_path() -> None:
    app = FastAPI()
    router = APIRouter()

    @router.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"item": item_id}

    app.include_router(router, prefix="/v1")
    registry = CollectorRegistry()
    instrument(app, registry, {})

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/v1/items/EB123456785VN")).status_code == 200
        assert (await client.get("/v1/items/RR473124829GB")).status_code == 200
        assert (await client.get("/nowhere/123")).status_code == 404

    labels = {"method": "GET", "route": "/v1/items/{item_id}", "status": "200"}
    assert registry.get_sample_value("http_requests_total", labels) == 2
    assert (
        registry.get_sample_value(
            "http_requests_total", {"method": "GET", "route": "unmatched", "status": "404"}
        )
        == 1
    )
