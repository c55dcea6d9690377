"""The counter service's messages: the national functions as JSON (S3 §1–§9, App. A).

A request names one function of :class:`~sbkcard.terminal.national.interface.NationalInterface`
and gives its parameters by their national names::

    {"function": "iReadCard", "iType": 1, "iAuthType": 2,
     "pCardInfo": "…|…|", "pFileAddr": "…", "id": 7, "reader": "counter-1", "hsm": true}

and the answer is the national return code and string, unchanged::

    {"id": 7, "function": "iReadCard", "code": 0, "pOutInfo": "…"}

The functions are those of the class itself (every public method answering
``(code, pOutInfo)``), with their parameters and types read from the signatures, so a
function added there is served here.  A request carrying a PIN field is refused: PINs
come from the counter's PIN pad (S3 §4.1.3), never over the socket.  Sans-IO: this
module parses and answers dicts.
"""

from __future__ import annotations

import inspect
import json
import re
import typing
from dataclasses import dataclass
from typing import Any, Final

from sbkcard.terminal.national.codes import TEXT, Code
from sbkcard.terminal.national.interface import NationalInterface

#: Request keys that are the service's own, not a function's parameters.
ENVELOPE: Final = frozenset({"function", "id", "reader", "hsm"})


@dataclass(frozen=True)
class Function:
    """One national function: its name, the parameters a request carries (name → ``int``
    or ``str``) and the PIN parameters the counter fills from its PIN pad (``pUserPin`` of
    the PKI functions, LD/T 6001.5-2023 §7)."""

    name: str
    parameters: dict[str, type]
    doc: str
    pins: tuple[str, ...] = ()

    @property
    def step(self) -> int:
        """The HSM step number (0 for a one-call function)."""
        return int(self.name[-1]) if "_HSM_Step" in self.name else 0


def is_pin_field(key: str) -> bool:
    """Does a request key name a PIN (``pin``, ``pPIN``, ``newPin`` …)?"""
    return re.search(r"(?:^pin|Pin|PIN)(?![a-z])", key) is not None


def _functions() -> dict[str, Function]:
    """The public methods answering ``(code, pOutInfo)`` with int and str parameters."""
    table: dict[str, Function] = {}
    for name, method in inspect.getmembers(NationalInterface, inspect.isfunction):
        if name.startswith("_"):
            continue
        hints = typing.get_type_hints(method)
        if hints.get("return") != tuple[int, str]:
            continue
        params = {p: hints[p] for p in inspect.signature(method).parameters if p != "self"}
        if all(kind in (int, str) for kind in params.values()):
            doc = (inspect.getdoc(method) or name).splitlines()[0]
            pins = tuple(p for p in params if is_pin_field(p))
            asked = {p: kind for p, kind in params.items() if p not in pins}
            table[name] = Function(name, asked, doc, pins)
    return table


#: Every function the service answers, by name.
FUNCTIONS: Final[dict[str, Function]] = _functions()


def next_step(name: str) -> str | None:
    """The HSM step that follows ``name`` (``None`` for the last one or a plain function)."""
    function = FUNCTIONS[name]
    if not function.step:
        return None
    following = f"{name[:-1]}{function.step + 1}"
    return following if following in FUNCTIONS else None


class RequestError(Exception):
    """A request the service refuses before the card: a national code and a message."""

    def __init__(self, code: Code, message: str, request_id: object = None) -> None:
        super().__init__(message)
        self.code = code
        self.request_id = request_id

    def answer(self, function: str | None = None) -> dict[str, Any]:
        """The error as an answer message."""
        return answer(self.request_id, function, int(self.code), f"{TEXT[self.code]}：{self}")


@dataclass(frozen=True)
class Request:
    """A parsed request: the function, its arguments, the envelope's fields."""

    function: Function
    arguments: dict[str, int | str]
    request_id: object = None
    reader: str | None = None
    hsm: bool | None = None


def decode(text: str | bytes, function: str | None = None) -> Request:
    """Parse a request message; ``function`` comes from the URL when the body omits it."""
    try:
        message = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(Code.BAD_PARAMETER, f"malformed JSON: {exc}") from None
    if not isinstance(message, dict):
        raise RequestError(Code.BAD_PARAMETER, "the request must be a JSON object")
    return parse(message, function)


def parse(message: dict[str, Any], function: str | None = None) -> Request:
    """Check a request object against the function's signature."""
    request_id = message.get("id")
    if request_id is not None and not isinstance(request_id, (str, int)):
        raise RequestError(Code.BAD_PARAMETER, '"id" must be a string or an integer')
    pins = sorted(k for k in message if is_pin_field(k))
    if pins:
        raise RequestError(
            Code.BAD_PARAMETER,
            f"{', '.join(pins)}: a PIN is never sent to the service; "
            "the cardholder types it on the counter's PIN pad",
            request_id,
        )
    name = message.get("function", function)
    if function is not None and name != function:
        raise RequestError(
            Code.BAD_PARAMETER, f'"function" {name!r} differs from the URL\'s {function!r}'
        )
    if not isinstance(name, str):
        raise RequestError(Code.BAD_PARAMETER, 'missing "function" (a string)', request_id)
    spec = FUNCTIONS.get(name)
    if spec is None:
        raise RequestError(Code.UNSUPPORTED_COMMAND, f"unknown function {name!r}", request_id)
    arguments: dict[str, int | str] = {}
    for param, kind in spec.parameters.items():
        if param not in message:
            raise RequestError(
                Code.BAD_PARAMETER, f"{name}: missing parameter {param!r}", request_id
            )
        value = message[param]
        if type(value) is not kind:
            raise RequestError(
                Code.BAD_PARAMETER,
                f"{name}: {param!r} must be {'an integer' if kind is int else 'a string'}, "
                f"got {type(value).__name__}",
                request_id,
            )
        arguments[param] = value  # type: ignore[assignment]  # checked just above
    unknown = sorted(set(message) - ENVELOPE - set(spec.parameters))
    if unknown:
        raise RequestError(
            Code.BAD_PARAMETER, f"{name}: unknown parameter(s) {', '.join(unknown)}", request_id
        )
    reader = message.get("reader")
    if reader is not None and not isinstance(reader, str):
        raise RequestError(Code.BAD_PARAMETER, '"reader" must be a string', request_id)
    hsm = message.get("hsm")
    if hsm is not None and not isinstance(hsm, bool):
        raise RequestError(Code.BAD_PARAMETER, '"hsm" must be true or false', request_id)
    return Request(spec, arguments, request_id, reader, hsm)


def answer(request_id: object, function: str | None, code: int, out: str) -> dict[str, Any]:
    """An answer message."""
    return {"id": request_id, "function": function, "code": code, "pOutInfo": out}
