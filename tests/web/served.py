"""A `dirkit serve` server on 127.0.0.1, port 0, in a thread of the test, and http.client requests to it."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from dirkit.backends.trees import RemoteOptions
from dirkit.web.security import CSRF_HEADER, cookie_name
from dirkit.web.server import DirkitServer, start_server

JOB_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Answer:
    """One response: status, headers and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        """Return the body as a JSON object."""
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value


class Client:
    """Requests to one server, by default with its Host, token cookie, Origin and CSRF token right."""

    def __init__(self, server: DirkitServer) -> None:
        self.server = server
        self.host = f"127.0.0.1:{server.port}"
        self.token = server.gate.secrets.token
        self.csrf = server.gate.secrets.csrf

    def good_headers(self) -> dict[str, str]:
        """Return the headers the page's own requests carry."""
        return {
            "Host": self.host,
            "Cookie": f"{cookie_name(self.server.port)}={self.token}",
            "Origin": f"http://{self.host}",
            CSRF_HEADER: self.csrf,
        }

    def request(
        self,
        method: str,
        path: str,
        body: object | None = None,
        headers: Mapping[str, str] | None = None,
        drop: Sequence[str] = (),
    ) -> Answer:
        """Send one request (headers override the good ones; drop leaves some out) and return the answer."""
        chosen = {**self.good_headers(), **(headers or {})}
        for name in drop:
            chosen.pop(name, None)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            chosen.setdefault("Content-Type", "application/json")
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            for name, value in chosen.items():
                connection.putheader(name, value)
            if data is not None:
                connection.putheader("Content-Length", str(len(data)))
            connection.endheaders(data)
            response = connection.getresponse()
            return Answer(response.status, dict(response.getheaders()), response.read())
        finally:
            connection.close()

    def finish(self, job: dict[str, object]) -> dict[str, object]:
        """Poll a job until it ends (bounded) and return its last state."""
        deadline = time.monotonic() + JOB_SECONDS
        while job["state"] == "running" and time.monotonic() < deadline:
            time.sleep(0.05)
            job = self.request("GET", f"/api/jobs/{job['id']}").json()
        assert job["state"] != "running", job
        return job


@contextmanager
def serving(trees: Sequence[str] = ()) -> Iterator[Client]:
    """Yield a client of a server started for the test; stop it and join its threads after."""
    server = start_server(trees, RemoteOptions(), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="test-serve")
    thread.start()
    try:
        yield Client(server)
    finally:
        server.shutdown()
        thread.join(10)
        server.close()
        assert not thread.is_alive()
