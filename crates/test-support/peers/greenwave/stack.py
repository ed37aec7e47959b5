"""Greenwave for tests: the real `greenwave` and `waiverdb` applications, and a ResultsDB
stand-in of ours, each on its own 127.0.0.1 port in this one process.

* Greenwave (the release on the package index) loads the policies in --policies and asks the
  two others over HTTP, as in production.
* WaiverDB (the release on the package index) keeps its waivers in SQLite in --workdir.
  Waivers are created through its own REST API (`POST /api/v1.0/waivers/`) with its "dummy"
  authentication method; its message bus publishing is off.
* ResultsDB has no release that runs here (it needs PostgreSQL); the stand-in serves the one
  query Greenwave makes, `GET /api/v2.0/results?<data key>=<value>&limit=N`, with ResultsDB's
  response shape, newest result first.

Usage: stack.py --workdir DIR --policies DIR [--seed FILE]
The seed file is JSON {"results": [{"nvr", "testcase", "outcome"}...],
"waivers": [{"nvr", "testcase", "product_version", "comment"}...]}.
Prints one JSON line when all three listen:
{"greenwave": URL, "waiverdb": URL, "resultsdb": URL, "greenwave_version": V, "waiverdb_version": V}.
"""

import argparse
import datetime
import http.server
import importlib.metadata
import json
import logging
import os
import sys
import threading
import urllib.parse

# WaiverDB imports gssapi (Kerberos) at module level unless DOCS is set; Kerberos is not used
# here and gssapi needs a C build against krb5.
os.environ.setdefault("DOCS", "true")

import requests  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


# -- ResultsDB stand-in --------------------------------------------------------------------

class Results:
    def __init__(self):
        self.rows = []
        self.lock = threading.Lock()

    def add(self, nvr, testcase, outcome, base):
        with self.lock:
            rid = len(self.rows) + 1
            self.rows.append({
                "id": rid,
                "href": "%s/api/v2.0/results/%d" % (base, rid),
                "testcase": {"name": testcase, "href": "%s/api/v2.0/testcases/%s" % (base, testcase),
                             "ref_url": None},
                "outcome": outcome,
                "data": {"type": ["koji_build"], "item": [nvr]},
                "note": "",
                "ref_url": None,
                "groups": [],
                "submit_time": (datetime.datetime(2024, 11, 14, 15, 0, 0)
                                + datetime.timedelta(seconds=rid)).isoformat(),
            })

    def query(self, params):
        limit = int(params.pop("limit", ["20"])[0])
        with self.lock:
            rows = list(reversed(self.rows))  # newest first, as ResultsDB orders them
        for key, values in params.items():
            if key.startswith("_"):
                continue
            wanted = ",".join(values).split(",")
            rows = [r for r in rows if any(v in r["data"].get(key, []) for v in wanted)]
        return rows[:limit]


def make_resultsdb_handler(results):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def _json(self, status, doc):
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            if url.path.rstrip("/") != "/api/v2.0/results":
                self._json(404, {"message": "Not Found"})
                return
            rows = results.query(urllib.parse.parse_qs(url.query))
            self._json(200, {"data": rows, "prev": None, "next": None})

    return Handler


# -- WaiverDB ------------------------------------------------------------------------------

def waiverdb_app(workdir):
    import waiverdb.app
    import waiverdb.config
    from waiverdb.models import db

    class Config(waiverdb.config.Config):
        DEBUG = False
        PRODUCTION = False
        SECRET_KEY = "test-only-not-secret"
        DATABASE_URI = "sqlite:///" + os.path.join(workdir, "waiverdb.sqlite")
        AUTH_METHOD = "dummy"
        MESSAGE_BUS_PUBLISH = False
        SUPERUSERS = []

    app = waiverdb.app.create_app(Config)
    with app.app_context():
        db.create_all()
    return app


# -- Greenwave -----------------------------------------------------------------------------

def greenwave_app(workdir, policies, resultsdb, waiverdb_url):
    settings = os.path.join(workdir, "greenwave-settings.py")
    with open(settings, "w") as f:
        f.write("SECRET_KEY = 'test-only-not-secret'\n")
        f.write("RESULTSDB_API_URL = %r\n" % (resultsdb + "/api/v2.0"))
        f.write("WAIVERDB_API_URL = %r\n" % (waiverdb_url + "/api/v1.0"))
        f.write("POLICIES_DIR = %r\n" % policies)
        f.write("BODHI_URL = None\n")
        # Short upstream timeouts so that a stopped upstream fails a decision quickly.
        f.write("REQUESTS_TIMEOUT = (2, 10)\n")
        f.write("RETRY_TIMEOUT = 1\nRETRY_INTERVAL = 1\n")
    os.environ["GREENWAVE_CONFIG"] = settings
    import greenwave.app_factory
    return greenwave.app_factory.create_app("greenwave.config.ProductionConfig")


def start(app_or_handler, wsgi=True):
    if wsgi:
        server = make_server("127.0.0.1", 0, app_or_handler, threaded=True)
    else:
        http.server.ThreadingHTTPServer.daemon_threads = True
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), app_or_handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, "http://127.0.0.1:%d" % server.server_address[1]


def main():
    # WaiverDB and Greenwave log to stdout; the ready line must be the only thing on it.
    ready = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr
    p = argparse.ArgumentParser()
    p.add_argument("--workdir", required=True)
    p.add_argument("--policies", required=True)
    p.add_argument("--seed")
    a = p.parse_args()
    seed = {"results": [], "waivers": []}
    if a.seed:
        with open(a.seed) as f:
            seed.update(json.load(f))

    results = Results()
    _, resultsdb = start(make_resultsdb_handler(results), wsgi=False)
    for r in seed["results"]:
        results.add(r["nvr"], r["testcase"], r["outcome"], resultsdb)

    _, waiverdb_url = start(waiverdb_app(a.workdir))
    for w in seed["waivers"]:
        response = requests.post(
            waiverdb_url + "/api/v1.0/waivers/",
            json={"subject_type": "koji_build", "subject_identifier": w["nvr"],
                  "testcase": w["testcase"], "product_version": w["product_version"],
                  "waived": True, "comment": w.get("comment", "waived by a test")},
            auth=("tester", "x"), timeout=30)
        if response.status_code != 201:
            sys.exit("waiverdb refused the waiver: %s %s" % (response.status_code, response.text))

    _, greenwave_url = start(greenwave_app(a.workdir, a.policies, resultsdb, waiverdb_url))
    print(json.dumps({
        "greenwave": greenwave_url,
        "waiverdb": waiverdb_url,
        "resultsdb": resultsdb,
        "greenwave_version": importlib.metadata.version("greenwave"),
        "waiverdb_version": importlib.metadata.version("waiverdb"),
    }), file=ready, flush=True)
    # Runs until the test kills it, or its stdin closes (the test process died).
    sys.stdin.read()


if __name__ == "__main__":
    main()
