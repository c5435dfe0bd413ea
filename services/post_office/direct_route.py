"""A route whose valid requests skip FastAPI's per-request machinery; every other request keeps it.

FastAPI handles each request of a route by parsing the body with ``json.loads``, solving the route's
dependencies (the request, the wired post office, the bearer scheme, the caller, the response) and
validating the parsed body against the endpoint's model: about a seventh of an online scan's CPU in the
post office (issue 19). For the common case, a JSON body that is a valid request, a direct route decodes
the raw body with one pydantic ``model_validate_json`` and hands it to an answering function that
resolves what it needs itself and builds its response from bytes.

Anything else (another or no content type, an empty body, malformed JSON, a body that does not match the
schema) goes to FastAPI's own handler of the same route, which answers it exactly as before and in the
same order: malformed JSON before the credential is looked at, the credential before the schema. The
route is declared like any other (its endpoint's signature), so the OpenAPI document does not change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

DirectAnswer = Callable[[Request, Any], Awaitable[Response]]
"""Answers a request whose body is valid: given the request and the body's model instance."""

JSON = "application/json"


def direct_route(answer: DirectAnswer) -> type[APIRoute]:
    """An APIRoute class whose requests with a valid JSON body are answered by ``answer``."""

    class DirectRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            fastapi_handler = super().get_route_handler()
            assert self.body_field is not None, "a direct route takes a body"
            model = self.body_field.field_info.annotation
            assert isinstance(model, type) and issubclass(model, BaseModel), model

            async def handle(request: Request) -> Response:
                # Only the exact media type scanners send; its variants (a charset, +json) are rare
                # enough to take FastAPI's way, which knows them all.
                if request.headers.get("content-type") != JSON:
                    return await fastapi_handler(request)
                # Read once: Starlette keeps the body on the request for FastAPI's handler.
                body = await request.body()
                try:
                    valid = model.model_validate_json(body)
                except ValidationError:
                    return await fastapi_handler(request)
                return await answer(request, valid)

            return handle

    return DirectRoute
