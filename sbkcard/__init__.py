"""sbkcard: a toolkit for China's national social security card (社会保障卡).

Subpackages, from the bottom of the import graph up:

* :mod:`sbkcard.identifiers`: SSN, card number, card identification code, regions, formats.
* :mod:`sbkcard.keys`: the standard's cryptography, key hierarchy, key stores and ceremonies.
* :mod:`sbkcard.apdu`: typed APDUs, status words, TLV, builders, T=0, secure messaging, traces.
* :mod:`sbkcard.applet_model`: what runs on the chip (user card COS, PSAM), as data plus behaviour.
* :mod:`sbkcard.simulator`: the runtime hosting applets (NVM journal, power loss, images, vpcd).
* :mod:`sbkcard.terminal`: transports, terminal operations, the national reader interface.
* :mod:`sbkcard.issuance`: applicant records, the one-person-one-card registry, personalisation.
* :mod:`sbkcard.service`: the counter service (``sbkcard serve``) and the HSM service.
"""

__version__ = "0.1.0"
