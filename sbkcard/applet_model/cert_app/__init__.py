"""The third-generation card's certificate application (LD/T 6001.5-2023 §7 PKI).

- :mod:`.profile`: :class:`CertProfile`, one vendor's AIDs, files and commands;
  :data:`KIOSK_PROFILE` from a card-issuing kiosk's public driver;
- :mod:`.applet`: :class:`CertApplication`, its commands over the card's storage;
- :mod:`.financial`: the co-branded bank application, as far as selection;
- :mod:`.card`: :class:`ThirdGenerationCard`, the three applications on one chip;
- :mod:`.content`: the storage of a new application (PINs, empty files).
"""

from sbkcard.applet_model.cert_app.applet import CertApplication
from sbkcard.applet_model.cert_app.card import ThirdGenerationCard
from sbkcard.applet_model.cert_app.content import cert_app_content, is_secret, pin_bcd
from sbkcard.applet_model.cert_app.profile import KIOSK_PROFILE, CertProfile

__all__ = [
    "KIOSK_PROFILE",
    "CertApplication",
    "CertProfile",
    "ThirdGenerationCard",
    "cert_app_content",
    "is_secret",
    "pin_bcd",
]
