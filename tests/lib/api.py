"""The control API (docs/api.md) as the tests call it: JSON in and out with the bearer token,
the line ptbsteer announces it with, and the pieces every API test starts from (a token file,
the `control:` line, ptbsteer started until its API listens)."""
import json
import os
import re
import urllib.error
import urllib.request

from .runner import Ptbsteer

API_LINE = r"control API on (http://\S+)/v1/"


def token_file(tmp, token=None):
    """An owner-only token file in tmp; returns the token."""
    token = token or "t0ken-" + os.urandom(16).hex()
    with open(f"{tmp}/token", "w") as f:
        f.write(token + "\n")
    os.chmod(f"{tmp}/token", 0o600)
    return token


def control(tmp, listen="127.0.0.1:0"):
    """The `control:` line for a token file in tmp, on any free port by default; captures go to
    tmp/captures (made by the first POST /v1/capture)."""
    return (f'control: {{listen: "{listen}", token_file: "{tmp}/token", '
            f'capture_dir: "{tmp}/captures"}}\n')


def start(binary, cfg, token, follow=False):
    """ptbsteer on cfg, running once its control API listens: (Ptbsteer, Api)."""
    p = Ptbsteer(binary, cfg, ready=API_LINE, follow=follow)
    return p, Api(re.search(API_LINE, p.output).group(1), token)


class Api:
    def __init__(self, base, token):
        self.base, self.token = base, token

    def call(self, method, path, body=None, token=None, raw=None, auth=None):
        """(status, parsed JSON body, headers)."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        header = auth if auth is not None else f"Bearer {token or self.token}"
        if header:
            req.add_header("Authorization", header)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null"), r.headers
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = {"unparsed": text.decode(errors="replace")}
            return e.code, parsed, e.headers

    def counters(self):
        return self.call("GET", "/v1/counters")[1]
