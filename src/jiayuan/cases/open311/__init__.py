"""Open311 GeoReport v2 (开放接口) at ``/open311/v2/``.

Plain Django views, because the specification wants ``.json``/``.xml`` suffixes, a
form-encoded POST and its own error format (``[{"code", "description"}]``,
``<errors><error>…``). Every resource is offered in both formats; XML is built with
ElementTree and follows the element names of the specification (``services/service``,
``service_definition/attributes/attribute/values/value``, ``service_requests/request``,
``discovery/endpoints/endpoint/formats/format``, ``errors/error``).

What is public: the categories marked public and the requests filed under them — their
place, description, status and timing. What never is: the reporter (name, phone, email,
device or account), private photos and staff identities. Free text written by reporters
or staff is scrubbed of phone numbers, ID numbers, e-mail addresses and the reporter's
name before it leaves, and a request located at a dwelling shows its building, not its
door. Creating a request needs an ``api_key`` issued by ``jiayuan open311-key create``.

Modules: :mod:`.formats` (constants, JSON/XML, errors, the view decorator),
:mod:`.discovery` (discovery, services and their definitions), :mod:`.reading` (listing
and reading requests), :mod:`.intake` (creating them; the ``requests`` view),
:mod:`.privacy` (scrubbing and places), :mod:`.keys` (api keys).
"""

from .discovery import discovery, service_definition, service_list
from .formats import SPECIFICATION, not_found
from .intake import requests
from .keys import issue_key, key_digest, revoke_key
from .reading import request_detail, token_detail

__all__ = [
    "SPECIFICATION",
    "discovery",
    "issue_key",
    "key_digest",
    "not_found",
    "request_detail",
    "requests",
    "revoke_key",
    "service_definition",
    "service_list",
    "token_detail",
]
