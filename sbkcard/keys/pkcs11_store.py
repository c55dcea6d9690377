"""A key store on a PKCS#11 token (an HSM, or SoftHSM2 for tests) (Part 10 §6.3.3, §6.5).

Part 10 wants clear secret keys only inside hardware (§6.4.2.2 item 1). Here the DES
environment's roots are created in the token as ``CKK_DES2`` objects with
``CKA_SENSITIVE = true`` and ``CKA_EXTRACTABLE = false``, and everything is done with
them inside the token:

- diversification (SPEC §4.3) is ``C_DeriveKey`` with ``CKM_DES3_ECB_ENCRYPT_DATA`` for
  each level but the last (the intermediate keys stay in the token as session objects),
  and ``C_Encrypt`` with ``CKM_DES3_ECB`` of ``f ‖ ¬f`` under the last key handle for a
  card key that must leave (to be loaded into a card);
- export to a city is ``C_WrapKey`` with ``CKM_AES_KEY_WRAP`` (RFC 3394) under an AES
  transport key, of a derived session key that never exists outside the token in clear;
- the KCV is ``C_Encrypt`` of a zero block.

A single-length DES key ``K`` is held as the double-length key ``K ‖ K`` (the same
cipher); its logical length is kept in ``CKA_ID`` (``sbkcard:DES:8``).

SM4: PKCS#11 up to v3.1 defines no SM4 mechanism. An SM4-capable HSM (GM/T 0018-style
devices with a PKCS#11 interface) exposes vendor-defined ``CKK_SM4`` / ``CKM_SM4_ECB`` /
key-derivation mechanisms, numbered by each vendor above ``CKM_VENDOR_DEFINED``. This store
does not guess those numbers: it refuses SM4 keys with :class:`UnsupportedKeyError`.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.constants import DEFAULT
from pkcs11.exceptions import PKCS11Error

from sbkcard.keys.derivation import FACTOR_LENGTH
from sbkcard.keys.store import (
    KeyAlgorithm,
    KeyInfo,
    KeyStoreError,
    TamperedError,
    UnsupportedKeyError,
    WrappedKey,
    WrongPassphraseError,
)
from sbkcard.keys.zeroize import wiped

__all__ = ["SOFTHSM2_MODULE", "Pkcs11Store"]

SOFTHSM2_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
_ID_PREFIX = "sbkcard:"
_INVERT = bytes(255 - b for b in range(256))


class _StringData(ctypes.Structure):
    """``CK_KEY_DERIVATION_STRING_DATA`` (the parameter of ``CKM_DES3_ECB_ENCRYPT_DATA``)."""

    _fields_ = [("pData", ctypes.c_void_p), ("ulLen", ctypes.c_ulong)]


def _sm4_refusal(token: Any) -> UnsupportedKeyError:
    return UnsupportedKeyError(
        f"PKCS#11 token {token.label!r} ({token.manufacturer_id.strip()} {token.model.strip()}) "
        "cannot hold SM4 keys: PKCS#11 defines no SM4 mechanism and this token offers none. "
        "SM4 keys need an SM4-capable HSM (vendor CKK_SM4/CKM_SM4_ECB mechanisms) or the "
        "software key store"
    )


class Pkcs11Store:
    """A :class:`~sbkcard.keys.store.KeyStore` on the PKCS#11 token labelled ``token_label``."""

    def __init__(self, token_label: str, pin: str, *, module: str = SOFTHSM2_MODULE) -> None:
        try:
            library = pkcs11.lib(module)
        except (OSError, RuntimeError) as exc:
            raise KeyStoreError(f"PKCS#11 module {module}: cannot load ({exc})") from exc
        try:
            self._token = library.get_token(token_label=token_label)
        except pkcs11.exceptions.NoSuchToken:
            raise KeyStoreError(
                f"PKCS#11 module {module}: no token labelled {token_label!r}"
            ) from None
        except PKCS11Error as exc:
            raise KeyStoreError(f"PKCS#11 token {token_label!r}: {type(exc).__name__}") from exc
        try:
            self._session = self._token.open(user_pin=pin, rw=True)
        except pkcs11.exceptions.UserAlreadyLoggedIn:
            # PKCS#11 login is per application: another store in this process is logged in.
            self._session = self._token.open(rw=True)
        except pkcs11.exceptions.PinIncorrect:
            raise WrongPassphraseError(f"PKCS#11 token {token_label!r}: wrong PIN") from None
        except pkcs11.exceptions.PinLocked:
            raise WrongPassphraseError(f"PKCS#11 token {token_label!r}: PIN locked") from None
        except PKCS11Error as exc:
            raise KeyStoreError(
                f"PKCS#11 token {token_label!r}: cannot log in ({type(exc).__name__})"
            ) from exc
        self.token_label = token_label
        self.module = module
        self._handles: dict[str, tuple[KeyAlgorithm, int, Any]] = {}

    # -- objects and metadata ---------------------------------------------------------------

    @property
    def description(self) -> str:
        return f"PKCS#11 token {self.token_label!r} ({self.module})"

    def _objects(self, label: str | None = None) -> Iterator[tuple[str, KeyAlgorithm, int, Any]]:
        """sbkcard's secret keys on the token (with ``label``: only those so labelled)."""
        template: dict[Any, Any] = {Attribute.CLASS: ObjectClass.SECRET_KEY}
        if label is not None:
            template[Attribute.LABEL] = label
        # A search must finish before the session can encrypt: list the objects first.
        found = list(self._session.get_objects(template))
        for obj in found:
            ident = bytes(obj[Attribute.ID]).decode("ascii", "replace")
            if not ident.startswith(_ID_PREFIX):
                continue
            _, algorithm, length = ident.split(":")
            yield str(obj[Attribute.LABEL]), KeyAlgorithm(algorithm), int(length), obj

    def _find(self, label: str) -> tuple[KeyAlgorithm, int, Any]:
        """The key object under ``label`` (its handle is remembered for this session)."""
        if label in self._handles:
            return self._handles[label]
        found = [(a, n, o) for _, a, n, o in self._objects(label)]
        if not found:
            raise KeyStoreError(f"{self.description}: no key labelled {label!r}")
        if len(found) > 1:
            raise TamperedError(f"{self.description}: {len(found)} keys carry the label {label!r}")
        self._handles[label] = found[0]
        return found[0]

    def _kcv(self, obj: Any, algorithm: KeyAlgorithm) -> str:
        if algorithm is KeyAlgorithm.AES:
            block = obj.encrypt(bytes(16), mechanism=Mechanism.AES_ECB)
        else:
            block = obj.encrypt(bytes(8), mechanism=Mechanism.DES3_ECB)
        return bytes(block[:3]).hex().upper()

    def _info(self, label: str, algorithm: KeyAlgorithm, length: int, obj: Any) -> KeyInfo:
        return KeyInfo(
            label, algorithm, length, self._kcv(obj, algorithm), bool(obj[Attribute.EXTRACTABLE])
        )

    def list_keys(self) -> list[KeyInfo]:
        return sorted((self._info(*entry) for entry in self._objects()), key=lambda i: i.label)

    def info(self, label: str) -> KeyInfo:
        return self._info(label, *self._find(label))

    def __contains__(self, label: object) -> bool:
        return isinstance(label, str) and any(True for _ in self._objects(label))

    def _template(
        self,
        label: str | None,
        algorithm: KeyAlgorithm,
        length: int,
        *,
        extractable: bool,
        token: bool = True,
    ) -> dict[Any, Any]:
        """Attributes of a key object: sensitive always, extractable only when asked."""
        if algorithm is KeyAlgorithm.SM4:
            raise _sm4_refusal(self._token)
        if algorithm is KeyAlgorithm.SM2:
            raise UnsupportedKeyError(
                f"{self.description}: SM2 keys are kept in a software store here"
            )
        algorithm.check_length(length, what=f"key {label!r}")
        template: dict[Any, Any] = {
            Attribute.CLASS: ObjectClass.SECRET_KEY,
            Attribute.TOKEN: token,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: extractable,
            Attribute.ENCRYPT: True,
            Attribute.DECRYPT: False,
            Attribute.ID: f"{_ID_PREFIX}{algorithm.value}:{length}".encode("ascii"),
        }
        if label is not None:
            template[Attribute.LABEL] = label
        if algorithm is KeyAlgorithm.AES:
            template |= {
                Attribute.KEY_TYPE: KeyType.AES,
                Attribute.WRAP: True,
                Attribute.UNWRAP: True,
                Attribute.DERIVE: False,
            }
        else:
            template |= {
                Attribute.KEY_TYPE: KeyType.DES2,
                Attribute.WRAP: False,
                Attribute.UNWRAP: False,
                Attribute.DERIVE: True,
            }
        return template

    def _check_new(self, label: str) -> None:
        if not label or label in self:
            raise KeyStoreError(f"{self.description}: label {label!r} is empty or already used")

    # -- KeyStore operations --------------------------------------------------------------------

    def put(
        self, label: str, key: bytearray, algorithm: KeyAlgorithm, *, extractable: bool = False
    ) -> KeyInfo:
        self._check_new(label)
        template = self._template(label, algorithm, len(key), extractable=extractable)
        with wiped(key + key if len(key) == 8 else bytearray(key)) as value:
            template[Attribute.VALUE] = value
            try:
                self._session.create_object(template)
            except PKCS11Error as exc:
                raise KeyStoreError(
                    f"{self.description}: cannot import {label!r} ({type(exc).__name__})"
                ) from exc
            finally:
                template.pop(Attribute.VALUE)
        return self.info(label)

    def generate(
        self, label: str, algorithm: KeyAlgorithm, length: int, *, extractable: bool = False
    ) -> KeyInfo:
        self._check_new(label)
        template = self._template(label, algorithm, length, extractable=extractable)
        try:
            if algorithm is KeyAlgorithm.AES:
                template[Attribute.VALUE_LEN] = length
                self._session.generate_key(KeyType.AES, length * 8, template=template)
            elif length == 16:
                self._session.generate_key(KeyType.DES2, template=template)
            else:
                self._generate_single_des(template)
        except PKCS11Error as exc:
            raise KeyStoreError(
                f"{self.description}: cannot generate {label!r} ({type(exc).__name__})"
            ) from exc
        return self.info(label)

    def _generate_single_des(self, template: dict[Any, Any]) -> None:
        """A random single-length key ``K ‖ K`` made in the token: ``K = E_G(r)`` for an
        ephemeral random key G and a token random r, by deriving with data ``r ‖ r``."""
        ephemeral = self._session.generate_key(
            KeyType.DES2,
            template=self._template(None, KeyAlgorithm.DES, 16, extractable=False, token=False),
        )
        try:
            random = bytes(self._session.generate_random(64))
            self._derive_object(ephemeral, random + random, template)
        finally:
            ephemeral.destroy()

    def delete(self, label: str) -> None:
        self._find(label)[2].destroy()
        del self._handles[label]

    def _derive_object(self, parent: Any, data: bytes, template: dict[Any, Any]) -> Any:
        buffer = ctypes.create_string_buffer(data, len(data))
        parameter = bytes(_StringData(ctypes.addressof(buffer), len(data)))
        return parent.derive_key(
            KeyType.DES2,
            128,
            mechanism=Mechanism.DES3_ECB_ENCRYPT_DATA,
            mechanism_param=parameter,
            template={**template, Attribute.VALUE_LEN: DEFAULT},
        )

    @staticmethod
    def _level_data(factor: bytes, length: int, *, final: bool) -> bytes:
        """ECB input for one level: ``f ‖ ¬f`` (double length); ``f ‖ f`` to keep a
        single-length child in its ``K ‖ K`` form, or ``f`` for a single-length result."""
        if len(factor) != FACTOR_LENGTH:
            raise KeyStoreError(f"diversification factor: {FACTOR_LENGTH} bytes, got {len(factor)}")
        if length == 16:
            return factor + factor.translate(_INVERT)
        return factor if final else factor + factor

    @contextmanager
    def _chain(
        self, label: str, factors: Sequence[bytes]
    ) -> Iterator[tuple[KeyAlgorithm, int, Any]]:
        """The key under ``label`` diversified by all factors, as temporary token objects."""
        algorithm, length, current = self._find(label)
        if algorithm is not KeyAlgorithm.DES:
            raise UnsupportedKeyError(f"{self.description}: {label!r} is not a DES key")
        temporary: list[Any] = []
        try:
            for factor in factors:
                data = self._level_data(factor, length, final=False)
                template = self._template(None, algorithm, length, extractable=True, token=False)
                current = self._derive_object(current, data, template)
                temporary.append(current)
            yield algorithm, length, current
        except PKCS11Error as exc:
            raise KeyStoreError(
                f"{self.description}: diversifying {label!r} ({type(exc).__name__})"
            ) from exc
        finally:
            for obj in temporary:
                obj.destroy()

    def diversify(self, label: str, factors: Sequence[bytes]) -> bytearray:
        if not factors:
            raise KeyStoreError(
                f"{self.description}: diversifying {label!r} needs at least one factor"
            )
        with self._chain(label, factors[:-1]) as (_, length, parent):
            data = self._level_data(factors[-1], length, final=True)
            return bytearray(parent.encrypt(data, mechanism=Mechanism.DES3_ECB))

    def derive(
        self, label: str, factors: Sequence[bytes], new_label: str, *, extractable: bool = False
    ) -> KeyInfo:
        self._check_new(new_label)
        if not factors:
            raise KeyStoreError(f"{self.description}: deriving {label!r} needs a factor")
        with self._chain(label, factors[:-1]) as (algorithm, length, parent):
            template = self._template(new_label, algorithm, length, extractable=extractable)
            self._derive_object(
                parent, self._level_data(factors[-1], length, final=False), template
            )
        return self.info(new_label)

    def _kek(self, kek_label: str) -> Any:
        algorithm, _, kek = self._find(kek_label)
        if algorithm is not KeyAlgorithm.AES:
            raise UnsupportedKeyError(
                f"{self.description}: transport key {kek_label!r} is {algorithm.value}; "
                "this store wraps with CKM_AES_KEY_WRAP and needs an AES transport key"
            )
        return kek

    def wrap(self, label: str, kek_label: str, factors: Sequence[bytes] = ()) -> WrappedKey:
        kek = self._kek(kek_label)
        with self._chain(label, factors) as (algorithm, length, key):
            try:
                data = bytes(kek.wrap_key(key, mechanism=Mechanism.AES_KEY_WRAP))
                return WrappedKey(data, length, self._kcv(key, algorithm))
            except pkcs11.exceptions.KeyUnextractable:
                raise KeyStoreError(
                    f"{self.description}: key {label!r} is not extractable"
                ) from None
            except PKCS11Error as exc:
                raise KeyStoreError(
                    f"{self.description}: wrapping {label!r} ({type(exc).__name__})"
                ) from exc

    def unwrap(
        self,
        label: str,
        wrapped: bytes,
        kek_label: str,
        algorithm: KeyAlgorithm,
        length: int,
        *,
        extractable: bool = False,
    ) -> KeyInfo:
        self._check_new(label)
        template = self._template(label, algorithm, length, extractable=extractable)
        kek = self._kek(kek_label)
        try:
            kek.unwrap_key(
                ObjectClass.SECRET_KEY,
                template[Attribute.KEY_TYPE],
                wrapped,
                mechanism=Mechanism.AES_KEY_WRAP,
                template=template,
            )
        except (
            pkcs11.exceptions.WrappedKeyInvalid,
            pkcs11.exceptions.GeneralError,
            pkcs11.exceptions.EncryptedDataInvalid,
        ) as exc:
            raise TamperedError(
                f"{self.description}: unwrapping {label!r} failed the integrity check "
                f"(wrong transport key or altered ciphertext; {type(exc).__name__})"
            ) from exc
        except PKCS11Error as exc:
            raise KeyStoreError(
                f"{self.description}: unwrapping {label!r} ({type(exc).__name__})"
            ) from exc
        return self.info(label)

    def use(self, label: str) -> AbstractContextManager[bytearray]:
        """Always refused: token keys are sensitive and never leave the token in clear."""
        self._find(label)
        raise UnsupportedKeyError(
            f"{self.description}: key {label!r} is sensitive and never leaves the token in "
            "clear; use it through the store (diversify, derive, wrap)"
        )

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Pkcs11Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
