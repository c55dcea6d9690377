"""Applet kinds by name: what a card image's ``"applet"`` field may say.

Each kind names the module and class of its applet model, imported only when a card of
that kind is made, so that the simulator loads without every applet installed.  Which
storage keys hold secrets (keys, PINs) is the applet's knowledge, and images mark those
keys ``"secret": true``: the applet's module exposes ``is_secret(key: str) -> bool``
(the PSAM's does), or its storage layout reserves key prefixes for secrets (the user
card's ``key:`` and ``pin:``, :mod:`sbkcard.applet_model.user_card.fcp`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType, ModuleType
from typing import cast

from sbkcard.applet_model.applet import Applet
from sbkcard.applet_model.storage import Storage
from sbkcard.simulator.errors import UnknownAppletError


@dataclass(frozen=True)
class AppletKind:
    """One applet kind: its name in images and where its model lives."""

    name: str
    module: str
    class_name: str
    description: str
    secret_prefixes: tuple[str, ...] = ()
    """Storage-key prefixes of secrets, when the module has no ``is_secret``."""

    def _module(self) -> ModuleType:
        try:
            return importlib.import_module(self.module)
        except ModuleNotFoundError as exc:
            raise UnknownAppletError(
                f"applet kind {self.name!r}: module {self.module} is not available ({exc})"
            ) from exc

    def applet_class(self) -> type:
        """The applet's class (imports its module)."""
        cls = getattr(self._module(), self.class_name, None)
        if not isinstance(cls, type):
            raise UnknownAppletError(
                f"applet kind {self.name!r}: {self.module} has no class {self.class_name}"
            )
        return cls

    def create(self, storage: Storage) -> Applet:
        """A new applet of this kind running on ``storage``."""
        return cast(Applet, self.applet_class()(storage))

    def is_secret(self, key: str) -> bool:
        """Whether storage ``key`` holds a secret (a key, a PIN) for this applet."""
        predicate = getattr(self._module(), "is_secret", None)
        if callable(predicate):
            return bool(cast(Callable[[str], bool], predicate)(key))
        if self.secret_prefixes:
            return key.startswith(self.secret_prefixes)
        raise UnknownAppletError(
            f"applet kind {self.name!r}: {self.module} declares no secrets "
            "(no is_secret(key), no secret prefixes)"
        )


_KINDS: dict[str, AppletKind] = {}


def register_kind(kind: AppletKind) -> None:
    """Make ``kind`` known by its name (a third-party applet, a test's applet)."""
    _KINDS[kind.name] = kind


for _kind in (
    AppletKind(
        "user-card",
        "sbkcard.applet_model.user_card",
        "UserCard",
        "the cardholder's social security card (SSSE and its DFs)",
        secret_prefixes=("key:", "pin:"),
    ),
    AppletKind(
        "psam",
        "sbkcard.applet_model.psam",
        "Psam",
        "the terminal's secure access module (SPEC §8)",
    ),
    AppletKind(
        "user-card-3",
        "sbkcard.applet_model.cert_app",
        "ThirdGenerationCard",
        "a third-generation card: the SSSE, the certificate application, a bank's",
    ),
):
    register_kind(_kind)


def kinds() -> Mapping[str, AppletKind]:
    """Every known kind by name."""
    return MappingProxyType(_KINDS)


def applet_kind(name: str) -> AppletKind:
    """The kind called ``name``; :class:`UnknownAppletError` lists the known ones."""
    try:
        return _KINDS[name]
    except KeyError:
        known = ", ".join(sorted(_KINDS))
        raise UnknownAppletError(f"unknown applet kind {name!r} (known: {known})") from None


def kind_of(applet: Applet) -> str:
    """The registry name of ``applet``'s kind, from its class."""
    cls = type(applet)
    for kind in _KINDS.values():
        module = sys.modules.get(kind.module)
        if module is not None and getattr(module, kind.class_name, None) is cls:
            return kind.name
    raise UnknownAppletError(
        f"applet class {cls.__module__}.{cls.__qualname__} is not a registered applet kind"
    )
