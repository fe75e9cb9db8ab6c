"""A request sent in two steps: write it, then (after the caller's own work) read its answer.

A bulk job waits for each answer before the next request (Woodpecker takes one at a time),
so it does its writing while a request is out. This uses urllib3's public connection API
only: ``HTTPConnection.request()`` sends the request, ``getresponse()`` reads the answer.
One keep-alive connection per sender, opened again after any failure.

``SplitSender.start`` raises NotSent when nothing can have reached the server (no
connection), and Lost when the request may have reached it but its answer cannot be had.
"""

import http.client
import os
import socket
import ssl
from urllib.parse import urlsplit

import certifi
import urllib3
from requests.utils import get_environ_proxies, should_bypass_proxies
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.response import BaseHTTPResponse


class NotSent(Exception):
    """No connection: the request did not reach the server."""


class Lost(Exception):
    """The request may have reached the server; its answer was not read."""


class SplitSender:
    def __init__(self, base_url: str, *, connect_timeout: float, read_timeout: float) -> None:
        parts = urlsplit(base_url)
        self.scheme = parts.scheme
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.scheme == "https" else 80)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._connection: HTTPConnection | None = None
        self._absolute_urls = False  # plain HTTP through a proxy names the whole URL

    def start(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> None:
        """Send the request; its answer waits for ``answer``."""
        connection = self._connected(url)
        target = url if self._absolute_urls else _path_of(url)
        try:
            connection.request(
                method, target, body=body or None, headers=headers, preload_content=False
            )
        except (OSError, urllib3.exceptions.HTTPError, http.client.HTTPException) as error:
            self.close()
            raise Lost(f"the connection failed while sending ({type(error).__name__})") from error

    def answer(self) -> BaseHTTPResponse:
        """The answer's status and headers; its body is read by the caller."""
        assert self._connection is not None
        try:
            return self._connection.getresponse()
        except (OSError, urllib3.exceptions.HTTPError, http.client.HTTPException) as error:
            self.close()
            what = "did not answer in time" if _timed_out(error) else "dropped the connection"
            raise Lost(what) from error

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _connected(self, url: str) -> HTTPConnection:
        # A kept-alive connection the server has closed meanwhile is opened again before
        # anything is written on it.
        if self._connection is not None and self._connection.is_connected:
            return self._connection
        self.close()
        connection = self._new_connection(url)
        try:
            connection.connect()
        except (OSError, urllib3.exceptions.HTTPError) as error:
            connection.close()
            if _timed_out(error):
                raise NotSent("did not accept a connection in time") from error
            if isinstance(error, urllib3.exceptions.SSLError | ssl.SSLError):
                raise NotSent("the TLS handshake failed") from error
            raise NotSent("refused") from error
        # From now on the wait is for answers (getresponse() applies it to the socket).
        connection.timeout = self.read_timeout
        self._connection = connection
        return connection

    def _new_connection(self, url: str) -> HTTPConnection:
        proxy = None if should_bypass_proxies(url, None) else get_environ_proxies(url)
        proxy_url = (proxy or {}).get(self.scheme)
        if not proxy_url:
            self._absolute_urls = False
            if self.scheme == "https":
                return self._https(self.host, self.port)
            return HTTPConnection(self.host, self.port, timeout=self.connect_timeout)
        through = urlsplit(proxy_url)
        if self.scheme == "https":  # a CONNECT tunnel, TLS end to end
            connection = self._https(through.hostname or "", through.port or 80)
            connection.set_tunnel(self.host, self.port)
            self._absolute_urls = False
            return connection
        self._absolute_urls = True
        return HTTPConnection(
            through.hostname or "", through.port or 80, timeout=self.connect_timeout
        )

    def _https(self, host: str, port: int) -> HTTPSConnection:
        # The certificates requests uses for every other request (REQUESTS_CA_BUNDLE, else
        # certifi's), so both ways of sending trust the same servers.
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        return HTTPSConnection(
            host, port, timeout=self.connect_timeout, ca_certs=bundle or certifi.where()
        )


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path or '/'}{'?' + parts.query if parts.query else ''}"


def _timed_out(error: BaseException) -> bool:
    return isinstance(error, socket.timeout | TimeoutError | urllib3.exceptions.TimeoutError)
