"""The certificate application as a trace shows it (third-generation card, LD/T 6001.5 §7).

:class:`PkiModel` follows SELECT by name into the application's DDF or ADF (its
:class:`~sbkcard.applet_model.cert_app.profile.CertProfile`) and out again (SELECT of
another name or of the MF), and names and reads the profile's commands while inside:
key files, certificate chunks, public keys ``X ‖ Y``, signatures ``r ‖ s``, the
envelope's ``C1 ‖ C3 ‖ C2``.  Private keys never appear (READ BINARY of them is refused
by the card, and the key import's data is masked by the trace).
"""

from __future__ import annotations

from sbkcard.applet_model.cert_app.profile import KIOSK_PROFILE, CertProfile
from sbkcard.applet_model.traces.layouts import Row
from sbkcard.applet_model.traces.values import Cmd, Step, hex_rows, success

__all__ = ["PkiModel"]

_MF = b"\x3f\x00"


def _point_rows(data: bytes, what: str) -> list[Row]:
    if len(data) != 64:
        return hex_rows(data)
    return [
        Row("X", what, "x", data[:32].hex().upper()),
        Row("Y", what, "y", data[32:].hex().upper()),
    ]


def _signature_rows(data: bytes) -> list[Row]:
    if len(data) != 64:
        return hex_rows(data)
    return [
        Row("r", "签名值", "signature r", data[:32].hex().upper()),
        Row("s", "签名值", "signature s", data[32:].hex().upper()),
    ]


class PkiModel:
    """What a trace shows of the certificate application (see the module docstring)."""

    def __init__(self, profile: CertProfile = KIOSK_PROFILE) -> None:
        self.profile = profile
        self.active = False
        self.ef: int | None = None
        p = profile
        self._files = {
            p.sign_public: "signing public key",
            p.sign_private: "signing private key (never readable)",
            p.enc_public: "encryption public key",
            p.enc_private: "encryption private key (never readable)",
            p.sign_certificate: "signing certificate",
            p.enc_certificate: "encryption certificate",
        }
        self._names = {
            p.pin_hash: "PIN HASH",
            p.verify_user: "VERIFY user PIN",
            p.verify_admin: "VERIFY administrator PIN",
            p.change_admin: "CHANGE administrator PIN",
            p.change_user: "CHANGE user PIN",
            p.unblock_user: "UNBLOCK user PIN",
            p.generate: "GENERATE SM2 KEY PAIR",
            p.export_select: "EXPORT PUBLIC KEY (file)",
            p.export_read: "EXPORT PUBLIC KEY",
            p.envelope: "IMPORT ENVELOPE",
            p.session_key: "SESSION KEY",
            p.import_public: "IMPORT PUBLIC KEY",
            p.import_private: "IMPORT PRIVATE KEY",
            p.sign: "SM2 SIGN",
            p.decipher: "SM2 DECIPHER",
        }

    def _file(self, fid: int) -> str:
        return f"{fid:04X} {self._files.get(fid, 'not declared')}"

    def step(self, cmd: Cmd) -> Step | None:
        """``cmd`` read as a certificate-application command, or ``None`` if it is not one."""
        p = self.profile
        if cmd.ins == 0xA4 and cmd.cla == 0x00 and cmd.data is not None:
            if cmd.p1 == 0x04 and cmd.data in (p.ddf_name, p.adf_name):
                which = "DDF" if cmd.data == p.ddf_name else "ADF"
                step = Step("SELECT", [f"the certificate application's {which} ({p.name})"])

                def enter(sw: int) -> None:
                    if success(sw):
                        self.active, self.ef = True, None

                step.apply = enter
                return step
            if cmd.p1 == 0x04 or cmd.data == _MF:
                self.active = False
                return None
        if not self.active:
            return None
        header = bytes((cmd.cla, cmd.ins, cmd.p1, cmd.p2))
        name = self._names.get(header)
        if name is not None:
            return self._proprietary(name, header, cmd)
        if cmd.ins == 0xA4 and cmd.data is not None and len(cmd.data) == 2:
            selected = int.from_bytes(cmd.data, "big")
            step = Step("SELECT", [f"EF {self._file(selected)}"])

            def select(sw: int) -> None:
                if success(sw):
                    self.ef = selected

            step.apply = select
            return step
        if cmd.ins in (0xB0, 0xD6):
            fid = cmd.p1 & 0x1F if cmd.p1 & 0x80 else self.ef
            offset = cmd.p2 if cmd.p1 & 0x80 else cmd.p1 << 8 | cmd.p2
            where = "the current EF (none)" if fid is None else self._file(fid)
            step = Step("READ BINARY" if cmd.ins == 0xB0 else "UPDATE BINARY")
            step.notes.append(f"{where}, offset {offset:04X}")
            if cmd.data:
                step.fields = [
                    Row(f"{offset:04X}", "证书", "certificate bytes", cmd.data.hex().upper())
                ]
            return step
        return None

    def _proprietary(self, name: str, header: bytes, cmd: Cmd) -> Step:
        p = self.profile
        step = Step(name)
        data = cmd.data
        if header == p.pin_hash:
            step.notes.append("the PIN (masked); answers SM3(SM3(PIN) ‖ card nonce)")
        elif header == p.verify_user:
            step.notes.append("SM4(hash[0:16], the card's 16-byte challenge)")
        elif header in (p.change_user, p.unblock_user):
            which = "the old user PIN" if header == p.change_user else "the administrator PIN"
            step.notes.append(f"the new user PIN enciphered and MACed under {which} (masked)")
        elif header == p.generate and data is not None:
            refs = {data[i]: data[i + 2 : i + 4] for i in range(0, len(data) - 3, 4)}
            public, private = refs.get(0xC0, b""), refs.get(0xC2, b"")
            step.notes.append(
                f"public key to {public.hex().upper()}, private key to {private.hex().upper()}"
            )
        elif header == p.export_select and data is not None:
            step.notes.append(f"file {self._file(int.from_bytes(data, 'big'))}")
        elif header == p.export_read:
            step.interpret = lambda answer: _point_rows(answer, "公钥")
        elif header == p.sign:
            step.notes.append("e = SM3(Z ‖ M), Z with the default identity (GM/T 0009)")
            if data is not None:
                step.fields = [Row("e", "摘要", "digest", data.hex().upper())]
            step.interpret = _signature_rows
        elif header in (p.envelope, p.decipher) and data is not None and len(data) >= 97:
            step.fields = [
                *_point_rows(data[:64], "C1"),
                Row("C3", "杂凑值", "hash", data[64:96].hex().upper()),
                Row("C2", "密文", "ciphertext", data[96:].hex().upper()),
            ]
        elif header == p.import_public and data is not None:
            step.fields = _point_rows(data[2:], "加密公钥")
        elif header == p.import_private:
            step.notes.append("the private key, SM4 under the session key (masked)")
        return step
