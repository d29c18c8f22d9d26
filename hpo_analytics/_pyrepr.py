"""A small, restricted parser for Python-repr literals sent by the service.

One documentation revision of ModelArts sends the trial ``config`` as
``"{'batch_size': 32, 'learning_rate': 0.055}"``, and the official SDK turns
JSON floats into ``Decimal('0.055')`` before calling ``str()`` on a dict.
Neither is JSON, and service text must never reach ``eval`` or
``ast.literal_eval``.  This parser accepts only plain data:

* dicts, lists, tuples (``()`` and ``(x,)``), strings in single or double
  quotes with the usual backslash escapes (optionally ``u``/``r`` prefixed);
* ints, floats, ``True``/``False``/``None``, ``nan``/``inf`` (and ``float('nan')``);
* scalar wrappers ``Decimal('…')``, ``np.float32(…)``, ``numpy.int64(…)``,
  ``array(…)`` and ``tensor(…)`` around a number (the number is kept).

Anything else raises :class:`~hpo_analytics.errors.CellParseError` (a
``ValueError``) with the offset of the problem.
Nesting is capped so a hostile value cannot exhaust the stack.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .errors import CellParseError

__all__ = ["parse_python_literal"]

_MAX_DEPTH = 64
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*(?:\.[A-Za-z_][A-Za-z_0-9]*)*")
_WS = re.compile(r"\s*")
_SIMPLE_ESCAPES = {
    "\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r",
    "0": "\0", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "\n": "",
}
_CONSTANTS: dict[str, Any] = {
    "True": True, "False": False, "None": None,
    "nan": math.nan, "inf": math.inf, "NaN": math.nan, "Infinity": math.inf,
}
# Calls whose single argument is a number (or a numeric string) we keep as the value.
_NUMERIC_WRAPPERS = re.compile(
    r"(?:Decimal|decimal\.Decimal|float|int|tensor|torch\.tensor|array|np\.array|numpy\.array"
    r"|(?:np|numpy)\.(?:float|int|uint)(?:8|16|32|64|128)?|(?:np|numpy)\.(?:double|single|half|longdouble|float_|int_))$"
)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> CellParseError:
        snippet = self.text[self.pos : self.pos + 20]
        return CellParseError(f"{what} at offset {self.pos} (near {snippet!r})")

    def skip_ws(self) -> None:
        self.pos = _WS.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def expect(self, char: str) -> None:
        self.skip_ws()
        if self.peek() != char:
            raise self.fail(f"expected {char!r}")
        self.pos += 1

    def value(self, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH:
            raise self.fail("nesting too deep")
        self.skip_ws()
        ch = self.peek()
        if ch == "{":
            return self.mapping(depth)
        if ch == "[":
            return self.sequence("[", "]", depth)
        if ch == "(":
            return tuple(self.sequence("(", ")", depth))
        if ch and ch in "'\"":
            return self.string()
        if ch and (ch in "uUrR") and self.text[self.pos + 1 : self.pos + 2] in ("'", '"'):
            raw = ch in "rR"
            self.pos += 1
            return self.string(raw=raw)
        if ch == "-" or ch == "+":
            # -inf / -nan / signed numbers
            rest = self.text[self.pos + 1 : self.pos + 9]
            for word in ("inf", "Infinity", "nan", "NaN"):
                if rest.startswith(word) and not rest[len(word) : len(word) + 1].isalnum():
                    self.pos += 1 + len(word)
                    val = _CONSTANTS[word]
                    return -val if ch == "-" else val
        match = _NUMBER.match(self.text, self.pos)
        if match:
            self.pos = match.end()
            return _to_number(match.group())
        match = _NAME.match(self.text, self.pos)
        if match:
            name = match.group()
            self.pos = match.end()
            if name in _CONSTANTS:
                return _CONSTANTS[name]
            self.skip_ws()
            if self.peek() == "(" and _NUMERIC_WRAPPERS.match(name):
                return self.wrapped(name, depth)
            raise self.fail(f"unsupported name {name!r}")
        raise self.fail("unexpected character" if ch else "unexpected end of text")

    def wrapped(self, name: str, depth: int) -> Any:
        self.expect("(")
        inner = self.value(depth + 1)
        self.skip_ws()
        # Keyword arguments such as device='cuda:0' or dtype=float32 are ignored.
        while self.peek() == ",":
            self.pos += 1
            self.skip_ws()
            if self.peek() == ")":
                break
            kw = _NAME.match(self.text, self.pos)
            if not kw:
                raise self.fail("expected a keyword argument")
            self.pos = kw.end()
            self.expect("=")
            self.skip_ws()
            bare = _NAME.match(self.text, self.pos)
            if self.peek() == "<":  # grad_fn=<NllLossBackward0>
                end = self.text.find(">", self.pos)
                if end < 0:
                    raise self.fail("unterminated <...>")
                self.pos = end + 1
            elif bare and bare.group() not in _CONSTANTS:  # dtype=float32, dtype=torch.float64
                self.pos = bare.end()
            else:
                self.value(depth + 1)
            self.skip_ws()
        self.expect(")")
        if isinstance(inner, str):
            try:
                return _to_number(inner.strip())
            except ValueError:  # a CellParseError, or int() past Python's digit limit
                raise self.fail(f"{name}() of a non-numeric string") from None
        if isinstance(inner, bool) or not isinstance(inner, (int, float, list)):
            raise self.fail(f"{name}() of a non-number")
        return inner

    def mapping(self, depth: int) -> dict[Any, Any]:
        self.pos += 1
        out: dict[Any, Any] = {}
        self.skip_ws()
        if self.peek() == "}":
            self.pos += 1
            return out
        while True:
            key = self.value(depth + 1)
            if isinstance(key, (dict, list)):
                raise self.fail("unhashable dict key")
            self.expect(":")
            out[key] = self.value(depth + 1)
            self.skip_ws()
            ch = self.peek()
            self.pos += 1
            if ch == "}":
                return out
            if ch != ",":
                self.pos -= 1
                raise self.fail("expected ',' or '}'")
            self.skip_ws()
            if self.peek() == "}":
                self.pos += 1
                return out

    def sequence(self, open_: str, close: str, depth: int) -> list[Any]:
        self.pos += 1
        out: list[Any] = []
        self.skip_ws()
        if self.peek() == close:
            self.pos += 1
            return out
        while True:
            out.append(self.value(depth + 1))
            self.skip_ws()
            ch = self.peek()
            self.pos += 1
            if ch == close:
                return out
            if ch != ",":
                self.pos -= 1
                raise self.fail(f"expected ',' or {close!r}")
            self.skip_ws()
            if self.peek() == close:
                self.pos += 1
                return out

    def string(self, *, raw: bool = False) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        parts: list[str] = []
        text = self.text
        while True:
            if self.pos >= len(text):
                raise self.fail("unterminated string")
            ch = text[self.pos]
            if ch == quote:
                self.pos += 1
                return "".join(parts)
            if ch == "\\" and not raw:
                self.pos += 1
                esc = text[self.pos : self.pos + 1]
                if esc in _SIMPLE_ESCAPES:
                    parts.append(_SIMPLE_ESCAPES[esc])
                    self.pos += 1
                elif esc in ("x", "u", "U"):
                    width = {"x": 2, "u": 4, "U": 8}[esc]
                    digits = text[self.pos + 1 : self.pos + 1 + width]
                    if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                        raise self.fail("bad escape")
                    code = int(digits, 16)
                    if code > 0x10FFFF:
                        raise self.fail("bad escape")
                    parts.append(chr(code))
                    self.pos += 1 + width
                else:
                    raise self.fail("bad escape")
            elif ch == "\\" and raw:
                parts.append(text[self.pos : self.pos + 2])
                self.pos += 2
            else:
                end = self.pos
                while end < len(text) and text[end] not in (quote, "\\"):
                    end += 1
                parts.append(text[self.pos : end])
                self.pos = end


def _to_number(text: str) -> int | float:
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    lowered = text.lower().lstrip("+-")
    if lowered in ("nan", "inf", "infinity"):
        return float(text)
    if not _NUMBER.fullmatch(text):
        raise CellParseError(f"not a number: {text!r}")
    return float(text)


def parse_python_literal(text: str) -> Any:
    """Parse one Python-repr literal of plain data; raise :class:`~hpo_analytics.errors.CellParseError` otherwise."""
    parser = _Parser(text)
    value = parser.value()
    parser.skip_ws()
    if parser.pos != len(text):
        raise parser.fail("trailing text")
    return value
