"""QR codes of the community services (the activity check-in link), drawn by segno.

The code is returned as an SVG ``data:`` URI for an ``<img src>``: the page embeds it
inline without marking any markup safe."""

from __future__ import annotations

import segno


def svg_data_uri(text: str, *, scale: int = 6) -> str:
    """An SVG QR code of ``text`` (error correction M, a quiet zone of 4 modules)."""
    code = segno.make(text, error="m", micro=False)
    return str(code.svg_data_uri(scale=scale, border=4, dark="#1d273b"))
