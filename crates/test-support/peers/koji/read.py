"""Calls a hub with the official Koji client library (koji.ClientSession), for cross-checks.

Usage: read.py HUB_URL
Reads JSON lines {"method": name, "args": [tagged...], "kwargs": {name: tagged}} from stdin
and prints, per line, {"result": tagged} or {"fault": {"code": n, "string": s}} (tags as in
codec.py).
"""

import base64
import json
import sys

import koji
from koji.xmlrpcplus import xmlrpc_client

from codec import tag


def untag(t):
    (kind, v), = t.items()
    if kind == "nil":
        return None
    if kind in ("int", "bool", "str"):
        return v
    if kind == "double":
        return float(v)
    if kind == "datetime":
        return xmlrpc_client.DateTime(v)
    if kind == "base64":
        return xmlrpc_client.Binary(base64.b64decode(v))
    if kind == "array":
        return [untag(x) for x in v]
    if kind == "struct":
        return {k: untag(x) for k, x in v.items()}
    raise ValueError("unknown tag %r" % kind)


def main():
    session = koji.ClientSession(sys.argv[1], opts={"max_retries": 0, "offline_retry": False})
    for line in sys.stdin:
        if not line.strip():
            continue
        call = json.loads(line)
        args = [untag(a) for a in call.get("args", [])]
        kwargs = {k: untag(v) for k, v in call.get("kwargs", {}).items()}
        try:
            out = {"result": tag(getattr(session, call["method"])(*args, **kwargs))}
        except koji.GenericError as e:
            out = {"fault": {"code": e.faultCode, "string": str(e)}}
        except xmlrpc_client.Fault as e:
            out = {"fault": {"code": e.faultCode, "string": e.faultString}}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
