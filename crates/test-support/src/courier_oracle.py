# One long-lived Python process answering, one JSON line per request, what PyYAML 6 and
# operator-courier 2.1.11 say about generated inputs (see courier.rs). Requests:
#   {"op": "load", "text": ...}            yaml.safe_load (pure-Python SafeLoader)
#   {"op": "load_c", "text": ...}          the same through libyaml (CSafeLoader)
#   {"op": "verify", "dir": ..., "repository": null | str}
#                                          operatorcourier.api.build_and_verify
import base64
import datetime
import json
import logging
import os
import re
import sys
import tempfile

import yaml
from operatorcourier import api
from operatorcourier.errors import OpCourierError

logging.disable(logging.CRITICAL)


def clean(s):
    """A string JSON can carry: lone surrogates (which PyYAML builds from `"\\ud800"`) become
    U+FFFD, as our loader stores them."""
    return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in s)


def encode(value, path):
    """A typed encoding of a loaded value; a value already on `path` is a recursion. Levels
    past 30 are not encoded (the `str()` comparison still covers them)."""
    if len(path) > 30:
        return {"t": "deep"}
    for depth, seen in enumerate(reversed(path)):
        if seen is value:
            return {"t": "rec", "v": depth + 1}
    if value is None:
        return {"t": "none"}
    if isinstance(value, bool):
        return {"t": "bool", "v": value}
    if isinstance(value, int):
        return {"t": "int", "v": str(value)}
    if isinstance(value, float):
        return {"t": "float", "v": repr(value)}
    if isinstance(value, str):
        return {"t": "str", "v": clean(value)}
    if isinstance(value, bytes):
        return {"t": "bytes", "v": base64.b64encode(value).decode()}
    if isinstance(value, datetime.datetime):
        return {"t": "datetime", "v": str(value)}
    if isinstance(value, datetime.date):
        return {"t": "date", "v": str(value)}
    if isinstance(value, tuple):
        return {"t": "tuple", "v": [encode(v, path) for v in value]}
    inner = path + [value]
    if isinstance(value, list):
        return {"t": "list", "v": [encode(v, inner) for v in value]}
    if isinstance(value, dict):
        return {"t": "dict", "v": [[encode(k, inner), encode(v, inner)] for k, v in value.items()]}
    if isinstance(value, set):
        items = [encode(v, inner) for v in value]
        items.sort(key=lambda e: json.dumps(e, sort_keys=True))
        return {"t": "set", "v": items}
    return {"t": "other", "v": repr(type(value))}


def has_set(value, seen):
    if id(value) in seen:
        return False
    if isinstance(value, set):
        return True
    if isinstance(value, (list, tuple)):
        seen.add(id(value))
        return any(has_set(v, seen) for v in value)
    if isinstance(value, dict):
        seen.add(id(value))
        return any(has_set(k, seen) or has_set(v, seen) for k, v in value.items())
    return False


def load(text, loader):
    try:
        value = yaml.load(text, Loader=loader)
    except yaml.MarkedYAMLError as e:
        return {"ok": False, "marked": True, "error": clean(type(e).__name__ + ": " + str(e))}
    except Exception as e:  # what courier would not catch
        return {"ok": False, "marked": False, "error": clean(type(e).__name__ + ": " + str(e))}
    try:
        shown = None if has_set(value, set()) else str(value)
        # A lone surrogate loads as U+FFFD on our side; its repr cannot be compared.
        if shown is not None and (re.search(r"\\ud[89a-f][0-9a-f]{2}", shown)
                                  or any(0xD800 <= ord(c) <= 0xDFFF for c in shown)):
            shown = None
    except Exception as e:
        shown = "<str raised " + type(e).__name__ + ">"
    return {"ok": True, "value": encode(value, []), "str": shown}


def verify(directory, repository):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "validation.json")
        try:
            api.build_and_verify(source_dir=directory, repository=repository,
                                 validation_output=out)
            kind, message = "valid", ""
        except OpCourierError as e:
            kind, message = "courier", str(e)
        except Exception as e:
            kind, message = "raised", type(e).__name__ + ": " + str(e)
        report = None
        if os.path.exists(out):
            with open(out) as f:
                report = json.load(f)
        return {"outcome": kind, "message": message, "report": report}


def main():
    sys.setrecursionlimit(1000)
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if op == "load":
            answer = load(request["text"], yaml.SafeLoader)
        elif op == "load_c":
            answer = load(request["text"], yaml.CSafeLoader)
        elif op == "verify":
            answer = verify(request["dir"], request.get("repository"))
        else:
            answer = {"error": "unknown op " + op}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


main()
