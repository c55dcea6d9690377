"""The third-generation card's certificate application (LD/T 6001.5-2023 §7 PKI).

- :mod:`.profile`: :class:`~.profile.CertProfile`, one vendor's AIDs, files and commands;
  :data:`~.profile.KIOSK_PROFILE` from a card-issuing kiosk's public driver;
- :mod:`.applet`: :class:`~.applet.CertApplication`, its commands over the card's storage;
- :mod:`.financial`: the co-branded bank application, as far as selection;
- :mod:`.card`: :class:`~.card.ThirdGenerationCard`, the three applications on one chip;
- :mod:`.content`: the storage of a new application (PINs, empty files), its secrets.
"""

# Re-exported with "as" rather than listed in __all__, so that the API reference documents
# each object once, under the module that defines it.
from sbkcard.applet_model.cert_app.applet import CertApplication as CertApplication
from sbkcard.applet_model.cert_app.card import ThirdGenerationCard as ThirdGenerationCard
from sbkcard.applet_model.cert_app.content import cert_app_content as cert_app_content
from sbkcard.applet_model.cert_app.content import is_secret as is_secret
from sbkcard.applet_model.cert_app.content import pin_bcd as pin_bcd
from sbkcard.applet_model.cert_app.profile import KIOSK_PROFILE as KIOSK_PROFILE
from sbkcard.applet_model.cert_app.profile import CertProfile as CertProfile
