"""Prometheus: the text exposition format parsed into samples, the HTTP calls the tests make to
ptbsteer's metrics endpoint, and the metric names docs/metrics.md documents."""
import re
import time
import urllib.error
import urllib.request

RELOAD_RESULTS = ("success", "failure", "restart_required")
RELOAD_HTTP = {"success": 200, "failure": 400, "restart_required": 409}


def http(url, method="GET", timeout=30):
    """(status, body) of one request; an HTTP error status is an answer, not an exception. POST
    carries an empty body (POST /reload)."""
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} from the Prometheus text format."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        if not m:
            raise ValueError(f"unparsable sample line: {line!r}")
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return out


def scrape(url, timeout=30):
    """The samples of GET url/metrics; anything but 200 raises."""
    status, body = http(url + "/metrics", timeout=timeout)
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    return parse_metrics(body)


def sample(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


def total(samples, name):
    """The sum of every series of `name`."""
    return sum(v for (n, _), v in samples.items() if n == name)


def reload_counts(samples):
    """{result: reloads} from ptbsteer_config_reloads_total."""
    return {r: int(sample(samples, "ptbsteer_config_reloads_total", result=r) or 0)
            for r in RELOAD_RESULTS}


def metric_types(text):
    """{family: type} from the # TYPE lines."""
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))


def monotonic_series(types):
    """Sample names that only go up: counters, and the buckets, counts and sums of histograms
    and summaries (every observation here is >= 0)."""
    names = set()
    for fam, t in types.items():
        if t == "counter":
            names.add(fam)
        elif t in ("histogram", "summary"):
            names.update({fam + "_bucket", fam + "_count", fam + "_sum"} if t == "histogram"
                         else {fam + "_count", fam + "_sum"})
    return names


def wait_received(url, count, timeout=20):
    """Scrapes until ptbsteer has taken `count` frames from its RX queues (or the timeout);
    returns (body, samples) of the last scrape."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = http(url + "/metrics", timeout=5)
        samples = parse_metrics(body) if status == 200 else {}
        if total(samples, "ptbsteer_received_packets_total") >= count or \
                time.monotonic() > deadline:
            return body, samples
        time.sleep(0.2)


DOC_ROW = re.compile(
    r"^\|\s*`([a-z_:][a-z0-9_:]*)`\s*\|\s*(?:counter|gauge|histogram|summary)\s*\|([^|]*)\|")


def documented_metrics(doc_path):
    """Metric names in docs/metrics.md: first column of the table rows whose second is a type."""
    with open(doc_path) as f:
        return {m.group(1) for m in map(DOC_ROW.match, f) if m}


def documented_labels(doc_path):
    """{metric: set of label names} from docs/metrics.md's tables (the labels column)."""
    with open(doc_path) as f:
        return {m.group(1): {x.strip() for x in m.group(2).split(",") if x.strip()}
                for m in map(DOC_ROW.match, f) if m}
