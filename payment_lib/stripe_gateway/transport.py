"""The HTTP client the gateway gives the stripe SDK: the SDK's own ``RequestsClient``, on
sessions that read the environment once.

By default requests reads the environment on every request: the proxy variables (scanning
every variable for ``*_proxy``: about 250 us of CPU per Stripe call on our machine, more with a
container's long environment) and ``~/.netrc``, whose entry for the API host would replace the
API key with its login (HTTP Basic: Stripe then answers 401). Here the proxy for the API host is
read once, when the gateway is made (``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``, with
``NO_PROXY``, as requests reads them), and ``.netrc`` never. Certificates are unchanged: the
SDK sends its own CA bundle with every request. A change to the proxy variables takes effect
when the gateway is made again (the process restarts), as with most HTTP clients.

Each thread keeps a session of its own (its own connection pool), as the SDK does by default.
"""

from __future__ import annotations

import threading
from typing import Any, cast

import requests
import stripe
from requests.utils import get_environ_proxies


class _ThreadSessions:
    """What ``stripe.RequestsClient`` uses as its session: a requests ``Session`` per thread,
    none of which reads the environment."""

    def __init__(self, proxies: dict[str, str]) -> None:
        self._proxies = proxies
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False
            session.proxies.update(self._proxies)
            self._local.session = session
        return session

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        return self._session().request(*args, **kwargs)

    def close(self) -> None:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is not None:
            session.close()


def http_client(api_base: str, timeout: float) -> stripe.HTTPClient:
    """The SDK's requests client for calls to ``api_base``, with the proxy the environment
    names for it now."""
    proxies = get_environ_proxies(api_base)
    return stripe.RequestsClient(timeout=timeout, session=cast(Any, _ThreadSessions(proxies)))
