"""The counter screen's opt-in QR code, drawn on the server as inline SVG."""

from __future__ import annotations

import segno
from django.utils.safestring import SafeString, mark_safe

from touchflow.customers.models import OptInToken
from touchflow.messaging.optin_links import link


def optin_svg(token: OptInToken) -> SafeString:
    """An inline SVG QR code of the token's deep link: nothing is fetched to show it."""
    code = segno.make(link(token), error="m")
    # segno escapes nothing it did not make itself; the link is ours (bot handle + token).
    return mark_safe(  # noqa: S308
        code.svg_inline(scale=4, border=2, dark="#111", light="#fff",
                        title=None, svgclass="qr", lineclass=None)
    )
