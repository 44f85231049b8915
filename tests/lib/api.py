"""The control API (docs/api.md) as the tests call it: JSON in and out with the bearer token,
and the line ptbsteer announces it with."""
import json
import urllib.error
import urllib.request

API_LINE = r"control API on (http://\S+)/v1/"


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
