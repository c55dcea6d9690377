"""The counter service and the HSM service (S3: the national reader interface, App. C).

* :mod:`sbkcard.service.protocol` — the request and answer messages (sans-IO);
* :mod:`sbkcard.service.counter` — a counter's readers, the HSM fallback, recovery;
* :mod:`sbkcard.service.server` — ``sbkcard serve``: HTTP + WebSocket (aiohttp);
* :mod:`sbkcard.service.hsm_service` / :mod:`~sbkcard.service.hsm_server` — ``sbkcard hsm
  serve``, and :mod:`~sbkcard.service.hsm_client` the counter's client of it;
* :mod:`sbkcard.service.access`, :mod:`~sbkcard.service.audit`,
  :mod:`~sbkcard.service.config`, :mod:`~sbkcard.service.pinpad`.
"""
