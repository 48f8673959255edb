"""Request body parsers: DRF's, made safe against bodies built to crash the parser."""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with a body nested too deep for Python's parser answered as a 400, not a 500.

    `json.load` raises RecursionError (not ValueError, which DRF turns into a 400) on ~1,000 nested arrays:
    2 KB that would otherwise crash any JSON POST, the token endpoint included, before a login.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
