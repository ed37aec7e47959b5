"""XML-RPC codec differential helper, on Koji's own marshaller and parser.

  codec.py generate SEED COUNT
      Makes COUNT random values (every XML-RPC type, deep nesting, big ints, unicode, empty
      strings, arrays and structs) and encodes each with koji.xmlrpcplus.dumps as a method
      response, as the hub does (every tenth one as a fault instead). Prints one JSON line per
      value: {"xml": the document, "expected": what Koji's client reads back from it, tagged}.

  codec.py decode
      Reads JSON lines {"xml": a methodCall} from stdin and prints, per line, the call as
      Python's parser (the one the hub uses) reads it: {"method": name, "params": [tagged]}
      or {"error": text}.

Tagged values keep the XML-RPC type that plain JSON would lose:
  {"nil": null} {"int": n} {"bool": b} {"str": s} {"double": repr} {"datetime": raw}
  {"base64": standard base64} {"array": [...]} {"struct": {name: tagged}}
  a fault document: {"fault": {"code": n, "string": s}}
"""

import base64
import json
import random
import sys

from koji.xmlrpcplus import Fault, dumps, loads, xmlrpc_client

# Strings chosen for what breaks codecs: markup characters, entities-looking text, whitespace
# that must survive, CR (normalised to LF by XML parsers), astral-plane characters, combining
# marks, text that looks like other types, and CDATA terminators.
SAMPLES = [
    "", " ", "  leading and trailing  ", "\t", "\n", "line\nbreak", "cr\rlf\r\n", "a&b",
    "<tag>", "</value>", "&amp;", "&#13;", "]]>", "\"quoted\" 'single'", "Zoë", "测试",
    "✓", "😀🚀", "e\u0301", "\u00a0nbsp", "1", "-0", "1e+20", "true", "nil", "None",
    "operator_manifests.zip", "2024-11-14 14:54:20.342482+00:00",
    "packages/foo/1.0/3/data/logs/./operator_manifests.zip", "x" * 300,
]
ALPHABET = "abcxyz019 _-.:/&<>\"'\t\n\r" + "éßЖ中文✓😀"


def rand_str(rng):
    if rng.random() < 0.5:
        return rng.choice(SAMPLES)
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 24)))


def rand_int(rng):
    kind = rng.randrange(6)
    if kind == 0:
        return rng.choice([0, 1, -1, 2**31 - 1, -2**31, 2**31, -2**31 - 1,
                           2**63 - 1, -2**63, 4000000001])
    if kind < 3:
        return rng.randrange(-2**31, 2**31)
    return rng.randrange(-2**63, 2**63)


def rand_double(rng):
    kind = rng.randrange(5)
    if kind == 0:
        return rng.choice([0.0, -0.0, 1e20, 1e-7, 5e-324, 1.7976931348623157e308,
                           1731596060.342482, 0.1, -2.5, 1e16, 123456789012345678.0])
    if kind == 1:
        return rng.uniform(-1e6, 1e6)
    while True:
        # Any finite double, by its bits; NaN is left out (it equals nothing, not even itself).
        value = __import__("struct").unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if value == value and value not in (float("inf"), float("-inf")):
            return value


def rand_datetime(rng):
    return xmlrpc_client.DateTime("%04d%02d%02dT%02d:%02d:%02d" % (
        rng.randrange(1970, 2100), rng.randrange(1, 13), rng.randrange(1, 29),
        rng.randrange(24), rng.randrange(60), rng.randrange(60)))


def rand_value(rng, depth):
    scalars = [
        lambda: None, lambda: rand_int(rng), lambda: rng.random() < 0.5, lambda: rand_str(rng),
        lambda: rand_double(rng), lambda: rand_datetime(rng),
        lambda: xmlrpc_client.Binary(bytes(rng.randrange(256)
                                           for _ in range(rng.randrange(0, 120)))),
    ]
    if depth <= 0 or rng.random() < 0.45:
        return rng.choice(scalars)()
    if rng.random() < 0.5:
        return [rand_value(rng, depth - 1) for _ in range(rng.choice([0, 1, 2, 3, 5]))]
    return {rand_str(rng): rand_value(rng, depth - 1)
            for _ in range(rng.choice([0, 1, 2, 4, 6]))}


def deep(rng):
    """A narrow value nested 40 levels deep (Koji `extra` data has no depth limit)."""
    value = rand_str(rng)
    for i in range(40):
        value = [value] if i % 2 else {"level%d" % i: value, "": None}
    return value


def tag(v):
    if v is None:
        return {"nil": None}
    if isinstance(v, bool):
        return {"bool": v}
    if isinstance(v, int):
        return {"int": v}
    if isinstance(v, float):
        return {"double": repr(v)}
    if isinstance(v, str):
        return {"str": v}
    if isinstance(v, xmlrpc_client.DateTime):
        return {"datetime": v.value}
    if isinstance(v, xmlrpc_client.Binary):
        return {"base64": base64.b64encode(v.data).decode("ascii")}
    if isinstance(v, (list, tuple)):
        return {"array": [tag(x) for x in v]}
    if isinstance(v, dict):
        return {"struct": {k: tag(x) for k, x in v.items()}}
    raise TypeError("cannot tag %r" % type(v))


def generate(seed, count):
    rng = random.Random(seed)
    for i in range(count):
        if i % 10 == 9:
            xml = dumps(Fault(rand_int(rng) % 2**31, rand_str(rng)))
        else:
            value = deep(rng) if i % 50 == 7 else rand_value(rng, rng.randrange(0, 8))
            xml = dumps((value,), methodresponse=1)
        try:
            (params,), _ = loads(xml)
            expected = tag(params)
        except Fault as f:
            expected = {"fault": {"code": f.faultCode, "string": f.faultString}}
        print(json.dumps({"xml": xml, "expected": expected}))


def decode():
    for line in sys.stdin:
        if not line.strip():
            continue
        xml = json.loads(line)["xml"]
        try:
            params, method = loads(xml.encode("utf-8"))
            print(json.dumps({"method": method, "params": [tag(p) for p in params]}))
        except Exception as e:  # reported to the test, which fails with it
            print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}))
        sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(int(sys.argv[2]), int(sys.argv[3]))
    elif sys.argv[1] == "decode":
        decode()
    else:
        sys.exit("usage: codec.py generate SEED COUNT | decode")
