"""The counter's client of the HSM service (``sbkcard hsm serve``), over HTTP(S).

Each call is one ``POST /hsm/{operation}`` with the shared token as a bearer token;
failures become :class:`~sbkcard.service.counter.HsmError`: unreachable or refusing
(-5, the counter's resource failed), an answer that is not the service's shape (-23).
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

from sbkcard.service.counter import HsmError
from sbkcard.terminal.national.codes import TEXT, Code


class HttpHsmClient:
    """:class:`~sbkcard.service.counter.HsmClient` over the HSM service at ``url``."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 10.0,
        context: ssl.SSLContext | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.context = context

    def __repr__(self) -> str:
        return f"HttpHsmClient({self.url!r})"

    def compute(
        self, operation: str, step: str, card: str | None, *, step1: str | None = None
    ) -> str:
        fields = {"step": step, "card": card} | ({} if step1 is None else {"step1": step1})
        body = json.dumps(fields).encode()
        request = urllib.request.Request(
            f"{self.url}/hsm/{operation}",
            data=body,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self._token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self.context) as r:
                raw = r.read(1 << 16)
        except urllib.error.HTTPError as exc:
            raise _error(Code.LIBRARY_LOAD, f"HSM service {self.url}: HTTP {exc.code}") from None
        except (OSError, ValueError) as exc:
            raise _error(Code.LIBRARY_LOAD, f"HSM service {self.url} unreachable: {exc}") from None
        try:
            answer = json.loads(raw)
            code = answer["code"]
            if code == 0 and isinstance(answer["pKey"], str):
                return str(answer["pKey"])
            message = str(answer["message"])
            code = int(code)
        except (ValueError, KeyError, TypeError):
            raise _error(Code.ILLEGAL_DATA, f"HSM service {self.url}: malformed answer") from None
        if code >= 0:
            raise _error(Code.ILLEGAL_DATA, f"HSM service {self.url}: code {code}")
        raise HsmError(code, f"HSM service: {message}")


def _error(code: Code, cause: str) -> HsmError:
    return HsmError(int(code), f"{TEXT[code]}：{cause}")
