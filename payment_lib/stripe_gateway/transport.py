"""The HTTP client the gateway gives the stripe SDK: the SDK's ``HTTPClient`` interface over
urllib3, the connection pool requests itself is built on, without requests' per-request work.

Why not the SDK's ``RequestsClient``: requests merges sessions, settings and hooks on every
request, checks each header and parameter against runtime protocols, and by default reads the
environment each time (every variable scanned for ``*_proxy``, and ``~/.netrc``, whose entry for
the API host would replace the API key with its login: Stripe then answers 401). On our machine
that was about 0.8 ms of CPU in a Stripe call of 2.1 ms (``benchmarks/payments_load.py``). The
SDK's other clients were measured too: httpx costs more than requests, and pycurl's one handle
is shared by every thread.

What this client does, as requests did for the SDK:
- one connection pool per thread (as the SDK keeps one requests session per thread), kept
  alive between calls;
- HTTPS checked against the SDK's own certificate bundle, as the SDK asks of every client;
- the timeout applies to connecting and to each read;
- the proxy for the API host is read once, when the gateway is made (``HTTPS_PROXY``,
  ``HTTP_PROXY``, ``ALL_PROXY`` with ``NO_PROXY``, as requests reads them), credentials in its
  URL sent as ``Proxy-Authorization``. A change to the variables takes effect when the gateway
  is made again (the process restarts), as with most HTTP clients;
- ``.netrc`` is never read.
And one thing differently: a redirect is never followed. Stripe's API does not redirect; a 307
would re-send the payment, its idempotency key and the API key elsewhere. It is answered as the
error it is.

Failures become the SDK's ``APIConnectionError`` with the original urllib3 error as its cause
(``errors.unreachable_address`` reads the address from it), marked retryable as the SDK's own
clients mark them: a timeout or a lost or refused connection yes, a certificate error no.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

import stripe
import urllib3
from requests.utils import get_environ_proxies, select_proxy
from urllib3.exceptions import (
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from payment_lib.domain.errors import ConfigurationError

# One attempt, no redirect: retries are the gateway's (tenacity), with the same idempotency key.
# A failure comes wrapped in MaxRetryError, which names the pool (scheme, host, port) it used.
_ONCE = urllib3.Retry(total=0, redirect=False, raise_on_redirect=False, raise_on_status=False)
_RETRYABLE = (Urllib3Timeout, NewConnectionError, ProtocolError, ProxyError, ConnectionError)


class Urllib3Client(stripe.HTTPClient):
    """The stripe SDK's HTTP client interface on urllib3 pools, one per thread."""

    name = "urllib3"

    def __init__(self, *, timeout: float, proxy_url: str | None = None) -> None:
        super().__init__()
        self._timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self._proxy_url = proxy_url
        self._local = threading.local()

    def _pool(self) -> urllib3.PoolManager:
        pool: urllib3.PoolManager | None = getattr(self._local, "pool", None)
        if pool is None:
            options: dict[str, Any] = {
                "ca_certs": stripe.ca_bundle_path,
                "cert_reqs": "CERT_REQUIRED",
                "timeout": self._timeout,
                "retries": _ONCE,
            }
            pool = (
                _proxy_pool(self._proxy_url, options)
                if self._proxy_url
                else urllib3.PoolManager(**options)
            )
            self._local.pool = pool
        return pool

    def _send(
        self, method: str, url: str, headers: Mapping[str, str] | None, body: Any, preload: bool
    ) -> Any:
        try:
            return self._pool().request(
                method.upper(),
                url,
                body=body,
                headers=headers,
                redirect=False,
                preload_content=preload,
            )
        except Exception as error:  # every failure becomes the SDK's error
            raise _connection_error(error) from error

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        response = self._send(method, url, headers, post_data, preload=True)
        return response.data, response.status, response.headers

    def request_stream(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        response = self._send(method, url, headers, post_data, preload=False)
        return response, response.status, response.headers

    def close(self) -> None:
        pool: urllib3.PoolManager | None = getattr(self._local, "pool", None)
        if pool is not None:
            pool.clear()


def _proxy_pool(proxy_url: str, options: dict[str, Any]) -> urllib3.ProxyManager:
    parts = urlsplit(proxy_url)
    headers = None
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers = urllib3.make_headers(proxy_basic_auth=credentials)
    return urllib3.ProxyManager(proxy_url, proxy_headers=headers, **options)


def _connection_error(error: Exception) -> stripe.APIConnectionError:
    reason = error.reason if isinstance(error, MaxRetryError) else error
    retry = isinstance(reason, _RETRYABLE) and not isinstance(reason, SSLError)
    what = (
        "Could not verify Stripe's TLS certificate"
        if isinstance(reason, SSLError)
        else "Unexpected error communicating with Stripe"
    )
    message = f"{what}. (Network error: {type(reason).__name__}: {reason})"
    return stripe.APIConnectionError(message, should_retry=retry)  # type: ignore[no-untyped-call]


def http_client(api_base: str, timeout: float) -> stripe.HTTPClient:
    """The client for calls to ``api_base``, through the proxy the environment names for it
    now (None: direct).

    Raises:
        ConfigurationError: the proxy named is not an http:// or https:// URL.
    """
    proxy_url = select_proxy(api_base, get_environ_proxies(api_base))
    if proxy_url and urlsplit(proxy_url).scheme not in ("http", "https"):
        raise ConfigurationError(
            f"The proxy for {api_base} ({urlsplit(proxy_url).scheme}://...) is not supported: "
            "set HTTPS_PROXY to an http:// or https:// proxy."
        )
    return Urllib3Client(timeout=timeout, proxy_url=proxy_url)
