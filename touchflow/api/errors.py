"""Every failure of the API, as one JSON shape with the field it is about.

``{"detail": [{"field": "customer.phone", "message": "...", "code": "invalid_phone"}]}``

``field`` is a dotted path into the JSON body (or the query parameter, the path
parameter, ``Authorization`` for the token, ``body`` for the body as a whole). Domain
errors (``InvalidInput``), request validation, unparsable bodies, missing tokens and
lost database races all end here; none of them may become a 500.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DataError, IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from touchflow.core.errors import InvalidInput, NotFound

logger = logging.getLogger(__name__)

JSON_TYPES = ("application/json",)


class ApiError(Exception):
    """A failure the API answers with ``status``, naming ``field``."""

    def __init__(self, status: int, field: str | None, message: str, code: str) -> None:
        super().__init__(f"{field}: {message}")
        self.status = status
        self.field = field
        self.message = message
        self.code = code


class UnsupportedMediaType(ValueError):
    """The body is not declared as JSON."""


def problem(field: str | None, message: str, code: str) -> dict[str, Any]:
    return {"field": field, "message": message, "code": code}


def respond(api: NinjaAPI, request: HttpRequest, status: int,
            problems: Sequence[dict[str, Any]]) -> HttpResponse:
    response = api.create_response(request, {"detail": list(problems)}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="touchflow"'
    return response


@contextmanager
def fields(mapping: Mapping[str, str]) -> Iterator[None]:
    """Rename the fields of domain errors to their path in this endpoint's JSON body.

    Domain actions name their own parameters (``contacts``, ``language``); the
    integrator needs the path they sent (``customer``, ``customer.language``).
    """
    try:
        yield
    except InvalidInput as exc:
        if exc.field in mapping:
            raise InvalidInput(mapping[exc.field], exc.message, exc.code) from exc
        raise


class JsonParser(Parser):
    """ninja's parser, but strict about the content type.

    ninja wraps any exception raised here (bad JSON, nesting so deep that the decoder
    gives up, bad UTF-8) into a 400; ``_http_error`` turns the wrapped
    ``UnsupportedMediaType`` into a 415.
    """

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        content_type = (request.content_type or "").lower()
        if content_type and content_type not in JSON_TYPES and not content_type.endswith("+json"):
            raise UnsupportedMediaType(content_type)
        return json.loads(request.body)  # type: ignore[no-any-return]


def _location(loc: Sequence[Any]) -> str:
    """ninja's ``("body", "payload", "customer", "phone")`` → ``customer.phone``."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[2:]  # the source and the name of the view's parameter
    elif parts:
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or "body"


def _validation_error(request: HttpRequest, exc: ValidationError, api: NinjaAPI) -> HttpResponse:
    problems = [
        problem(_location(error.get("loc", ())), str(error.get("msg", "Invalid.")),
                str(error.get("type", "invalid")))
        for error in exc.errors
    ]
    return respond(api, request, 422, problems)


def _invalid_input(request: HttpRequest, exc: InvalidInput, api: NinjaAPI) -> HttpResponse:
    return respond(api, request, 422, [problem(exc.field, exc.message, exc.code)])


def _not_found(request: HttpRequest, exc: NotFound, api: NinjaAPI) -> HttpResponse:
    return respond(api, request, 404, [problem(exc.field, exc.message, "not_found")])


def _api_error(request: HttpRequest, exc: ApiError, api: NinjaAPI) -> HttpResponse:
    return respond(api, request, exc.status, [problem(exc.field, exc.message, exc.code)])


def _authentication_error(request: HttpRequest, exc: AuthenticationError,
                          api: NinjaAPI) -> HttpResponse:
    message = "Send a valid, unrevoked API token as 'Authorization: Bearer tf_…'."
    return respond(api, request, 401, [problem("Authorization", message, "not_authenticated")])


def _http_error(request: HttpRequest, exc: HttpError, api: NinjaAPI) -> HttpResponse:
    if isinstance(exc.__cause__, UnsupportedMediaType):
        message = "Send the body as JSON with 'Content-Type: application/json'."
        return respond(api, request, 415, [problem("body", message, "unsupported_media_type")])
    if exc.status_code == 400:
        message = "The body is not valid JSON."
        return respond(api, request, 400, [problem("body", message, "parse_error")])
    return respond(api, request, exc.status_code, [problem(None, str(exc), "http_error")])


def _http404(request: HttpRequest, exc: Http404, api: NinjaAPI) -> HttpResponse:
    return respond(api, request, 404, [problem(None, "Not found.", "not_found")])


def _too_big(request: HttpRequest, exc: RequestDataTooBig, api: NinjaAPI) -> HttpResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    message = f"The body is larger than {limit} bytes; send fewer items per request."
    return respond(api, request, 413, [problem("body", message, "too_large")])


def _integrity_error(request: HttpRequest, exc: IntegrityError, api: NinjaAPI) -> HttpResponse:
    # The actions retry their own races; reaching here means a concurrent request
    # kept winning. Nothing was written, so the client can safely send it again.
    logger.warning("API request lost a database race: %s", exc)
    message = "A concurrent request changed the same data; send the request again."
    return respond(api, request, 409, [problem(None, message, "conflict")])


def _data_error(request: HttpRequest, exc: DataError, api: NinjaAPI) -> HttpResponse:
    # Schemas bound every value; this is the net under them, not the way we validate.
    logger.warning("API request with data the database refused: %s", exc)
    return respond(api, request, 422, [problem(None, "A value is out of range.", "invalid_data")])


def json_method_not_allowed(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap a ninja path view so that its plain-text 405 answers in the API's shape."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            body = {"detail": [problem(None, f"Use one of: {allowed}.", "method_not_allowed")]}
            response = JsonResponse(body, status=405)
            response["Allow"] = allowed
        return response

    return wrapper


# What every operation that reads a JSON body may answer before its own code runs.
BODY_ERRORS = {
    400: "The body is not valid JSON (or not UTF-8).",
    413: "The body is larger than the server accepts.",
    415: "The body is not declared as JSON.",
}


def document_body_errors(schema: dict[str, Any]) -> None:
    """Add the answers of ``JsonParser`` and ``_too_big`` to every operation with a body.

    ninja documents only the answers a view declares; these come from parsing the body,
    which happens before the view, so no view can declare them.
    """
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if "requestBody" not in operation:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in BODY_ERRORS.items():
                responses.setdefault(str(status), {"description": description,
                                                   "content": content})


def install(api: NinjaAPI) -> None:
    """Register every handler on ``api``."""
    handlers: list[tuple[type[Exception], Any]] = [
        (ValidationError, _validation_error),
        (InvalidInput, _invalid_input),
        (NotFound, _not_found),
        (ApiError, _api_error),
        (AuthenticationError, _authentication_error),
        (HttpError, _http_error),
        (Http404, _http404),
        (RequestDataTooBig, _too_big),
        (IntegrityError, _integrity_error),
        (DataError, _data_error),
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, _bind(handler, api))


def _bind(handler: Any, api: NinjaAPI) -> Any:
    def handle(request: HttpRequest, exc: Exception) -> HttpResponse:
        return handler(request, exc, api)  # type: ignore[no-any-return]

    return handle
