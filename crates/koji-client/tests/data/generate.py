#!/usr/bin/env python3
"""Regenerates the XML-RPC decoding fixtures with Python's standard library.

Run from this directory:  python3 generate.py
Each case writes <name>.xml (exactly what xmlrpc.client emits, allow_none=True) and
<name>.expected.json, a type-tagged description of the value the Rust decoder must produce:
  {"nil": null} {"int": n} {"bool": b} {"str": s} {"double": "<repr>"}
  {"datetime": "<raw>"} {"base64": "<standard base64>"} {"array": [...]} {"struct": {...}}
  responses: {"ok": <value>} or {"fault": {"code": n, "string": s}}
  calls:     {"method": name, "params": [<value>...]}
Koji's hub sends integers outside the 32-bit range as <i8>; the stdlib refuses them, so the
marshaller below adds that one rule (the hub's own behaviour, described in the spec).
"""
import base64
import json
import xmlrpc.client as x


class KojiMarshaller(x.Marshaller):
    dispatch = dict(x.Marshaller.dispatch)

    def dump_long(self, value, write):
        if x.MININT <= value <= x.MAXINT:
            write("<value><int>%d</int></value>\n" % value)
        else:
            write("<value><i8>%d</i8></value>\n" % value)

    dispatch[int] = dump_long


x.Marshaller = KojiMarshaller  # dumps() looks the class up at call time


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
    if isinstance(v, x.DateTime):
        return {"datetime": v.value}
    if isinstance(v, x.Binary):
        return {"base64": base64.b64encode(v.data).decode()}
    if isinstance(v, (list, tuple)):
        return {"array": [tag(i) for i in v]}
    if isinstance(v, dict):
        return {"struct": {k: tag(i) for k, i in v.items()}}
    raise TypeError(type(v))


def write(name, xml, expected):
    with open(name + ".xml", "w", encoding="utf-8", newline="") as f:
        f.write(xml)
    with open(name + ".expected.json", "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")


def response(name, value):
    write(name, x.dumps((value,), methodresponse=True, allow_none=True), {"ok": tag(value)})


def fault(name, code, string):
    write(name, x.dumps(x.Fault(code, string), allow_none=True),
          {"fault": {"code": code, "string": string}})


def call(name, method, params):
    write(name, x.dumps(tuple(params), method, allow_none=True),
          {"method": method, "params": [tag(p) for p in params]})


NVR = "foo-operator-bundle-container-1.0-3"
BUILD = {
    "build_id": 1234567,
    "cg_id": None,
    "completion_time": "2024-11-14 15:01:02.123456+00:00",
    "completion_ts": 1731596462.123456,
    "creation_event_id": 987654,
    "creation_time": "2024-11-14 14:54:20.342482+00:00",
    "creation_ts": 1731596060.342482,
    "draft": False,
    "epoch": None,
    "extra": {
        "container_koji_task_id": 4000000001,
        "image": {"autorebuild": False, "isolated": False, "parent_build_id": 1111},
        "operator_manifests_archive": "operator_manifests.zip",
        "osbs_build": {"engine": "podman", "kind": "container_build",
                       "subtypes": ["operator_bundle"]},
        "submitter": "osbs",
        "typeinfo": {"image": {}, "operator-manifests": {"archive": "operator_manifests.zip"}},
    },
    "id": 1234567,
    "name": "foo-operator-bundle-container",
    "nvr": NVR,
    "owner_id": 42,
    "owner_name": "osbs",
    "package_id": 777,
    "package_name": "foo-operator-bundle-container",
    "release": "3",
    "source": "git://pkgs.example.com/containers/foo#0123abcd",
    "start_time": None,
    "start_ts": None,
    "state": 1,
    "task_id": None,
    "version": "1.0",
    "volume_id": 0,
    "volume_name": "DEFAULT",
}

response("getbuild_operator", BUILD)
response("getbuild_unknown", None)
legacy = dict(BUILD, extra={"operator_manifests_archive": "operator_manifests.zip"},
              volume_id=3, volume_name="archive+vol")
response("getbuild_legacy_volume", legacy)
response("getbuild_extra_nil", dict(BUILD, extra=None))
response("getapiversion", 1)
response("hello", "Hello World")
response("getbuildtype", {"image": {}, "operator-manifests": {"archive": "operator_manifests.zip"}})
response("getbuildlogs", [
    {"dir": "noarch", "name": "operator_manifests.zip",
     "path": "vol/archive+vol/packages/foo/1.0/3/data/logs/noarch/operator_manifests.zip"},
    {"dir": "x86_64", "name": "x86_64.log",
     "path": "packages/foo/1.0/3/data/logs/x86_64/x86_64.log"},
])
response("listarchives", [{
    "btype": "operator-manifests", "btype_id": 4, "build_id": 1234567, "buildroot_id": None,
    "checksum": "5eb63bbbe01eeed093cb22bb8f5acdc3", "checksum_type": 0,
    "compression_type": None, "extra": {"typeinfo": {"operator-manifests": {}}},
    "filename": "operator_manifests.zip", "id": 55555, "metadata_only": False,
    "size": 5 * 1024 ** 3, "type_description": "Zip file", "type_extensions": "zip",
    "type_id": 8, "type_name": "zip"}])
response("scalars", [
    0, -7, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 63), 2 ** 63 - 1,
    True, False,
    1e20, -0.5, 1731596060.342482, 5e-324, 0.1,
    "", " padded  ", "line1\nline2\ttab", "a & b < c > d \"q\" 'a'", "ünïcödé ✓ 𝄞",
    "]]>", x.DateTime("20241114T14:54:20"), x.Binary(bytes(range(256))), x.Binary(b""),
    {}, [], [[[]]], {"nested": {"deeper": [None, {"k": "v"}]}},
])
fault("fault_invalid_format", 1000, "invalid format: nodashes")
fault("fault_server_offline", 1014, "database outage")
fault("fault_python_exception", 1, "<class 'TypeError'>: getBuild() got an unexpected keyword argument 'x'")
response("multicall", [
    [1],
    {"faultCode": 1000, "faultString": "Invalid method: noSuchMethod",
     "traceback": ["Traceback (most recent call last):\n", "koji.GenericError: x\n"]},
    ["Hello World"],
])

call("call_getbuild_nvr", "getBuild", [NVR])
call("call_getbuild_id_strict", "getBuild", [1234567, True])
call("call_getbuild_struct", "getBuild",
     [{"name": "foo", "release": "3", "version": "1.0"}])
call("call_listarchives_kwargs", "listArchives",
     [{"__starstar": True, "buildID": 1234567, "filename": "operator_manifests.zip",
       "type": "operator-manifests"}])
call("call_getapiversion", "getAPIVersion", [])
call("call_multicall", "multiCall", [[
    {"methodName": "getAPIVersion", "params": []},
    {"methodName": "getBuild", "params": [NVR]},
]])
call("call_nil_and_big", "echo", [None, 2 ** 40, "x & <y>"])
