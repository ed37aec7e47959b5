"""A Koji hub for tests, answering through Koji's own code.

The real hub needs PostgreSQL, mod_wsgi and rpm bindings and is not distributed as a package.
This program keeps the parts that decide what goes on the wire and takes them from the `koji`
package itself: request parsing and response marshalling (`koji.xmlrpcplus`, with its `i8` and
`nil` rules), keyword arguments (`koji.decode_args`), argument checking
(`koji.util.call_with_argcheck`), NVR parsing (`koji.parse_NVR`), fault codes (Koji's exception
classes) and the file layout (`koji.PathInfo`). Around them sit the transport rules of
`kojihub/kojixmlrpc.py` (POST only, text/plain transport errors, `Koji-Version`) and the
read-only methods OMPS calls, over the builds recorded in `builds.py`.

A second server on another port is the file root (`topurl`): it serves the directory the hub
lays the archives out in, with Koji's path rules, as kojipkgs does.

Usage: hub.py --fixtures DIR --topdir DIR [--delay SECONDS] [--offline]
                [--no-operator-manifests-btype]
Prints one JSON line when both servers listen: {"hub": URL, "topurl": URL, "koji_version": V}.
"""

import argparse
import datetime
import hashlib
import http.server
import importlib.metadata
import inspect
import json
import os
import shutil
import sys
import threading
import time
import traceback
import zipfile

import koji
import koji.util
from koji.xmlrpcplus import ExtendedMarshaller, Fault, dumps, loads

import builds as recorded

KOJI_VERSION = importlib.metadata.version("koji")
# Request bodies of the read-only calls are tiny; the real hub caps them too (MaxRequestLength).
MAX_REQUEST = 4 * 1024 * 1024
ZIP_TYPE = {"type_id": 5, "type_name": "zip", "type_description": "Zip file",
            "type_extensions": "zip", "compression_type": None}
BTYPES = {"rpm": 1, "maven": 2, "win": 3, "image": 4, "operator-manifests": 5}


class HubMarshaller(ExtendedMarshaller):
    """kojixmlrpc's marshaller: datetimes go out as strings (`isoformat(' ')`)."""

    dispatch = ExtendedMarshaller.dispatch.copy()

    def dump_datetime(self, value, write):
        self.dump_unicode(value.isoformat(" "), write)

    dispatch[datetime.datetime] = dump_datetime


def public(build):
    """A build as it goes on the wire (the layout keys removed)."""
    return {k: v for k, v in build.items() if not k.startswith("_")}


class Hub:
    def __init__(self, fixtures, topdir, btypes):
        self.pathinfo = koji.PathInfo(topdir=topdir)
        self.topdir = topdir
        self.btypes = btypes
        self.builds = [dict(b) for b in recorded.BUILDS]
        self.archives = {}  # build id -> list of archive rows
        for build in self.builds:
            self._lay_out(build, fixtures)

    # -- files -----------------------------------------------------------------------------

    def _lay_out(self, build, fixtures):
        fixture = build.get("_fixture")
        if not fixture:
            return
        extra = build["extra"] or {}
        if "_log_dir" in build:
            target = os.path.normpath(
                os.path.join(self.pathinfo.build_logs(build), build["_log_dir"]))
        else:
            target = self.pathinfo.typedir(build, "operator-manifests")
        os.makedirs(target, exist_ok=True)
        filename = (extra.get("typeinfo", {}).get("operator-manifests", {}).get("archive")
                    or extra["operator_manifests_archive"])
        path = os.path.join(target, filename)
        zip_manifests(os.path.join(fixtures, fixture), path)
        if "_log_dir" in build:
            return  # legacy builds registered the zip as a log, not as an archive
        with open(path, "rb") as f:
            md5 = hashlib.md5(f.read()).hexdigest()
        self.archives[build["id"]] = [{
            "id": 900000 + len(self.archives),
            "btype_id": BTYPES["operator-manifests"],
            "btype": "operator-manifests",
            "build_id": build["id"],
            "buildroot_id": None,
            "filename": filename,
            "size": os.path.getsize(path),
            "checksum": build.get("_checksum", md5),
            "checksum_type": 0,
            "metadata_only": False,
            "extra": {"typeinfo": {"operator-manifests": {}}},
            **ZIP_TYPE,
        }]

    # -- lookups ---------------------------------------------------------------------------

    def find_build(self, info, strict=False):
        """kojihub's find_build_id + get_build."""
        if isinstance(info, int):
            match = lambda b: b["id"] == info  # noqa: E731
        elif isinstance(info, str):
            data = koji.parse_NVR(info)  # GenericError "invalid format: ..." when malformed
            match = lambda b: (b["name"], b["version"], b["release"]) == (  # noqa: E731
                data["name"], data["version"], data["release"])
        elif isinstance(info, dict):
            for key in ("name", "version", "release"):
                if key not in info:
                    raise koji.GenericError("%s not specified in build info" % key)
            match = lambda b: all(b[k] == info[k] for k in ("name", "version", "release"))  # noqa: E731
        else:
            raise koji.GenericError("Invalid type for build: %r" % (info,))
        for build in self.builds:
            if match(build):
                return build
        if strict:
            raise koji.GenericError("No such build: %s" % (info,))
        return None

    # -- methods (names and signatures as in kojihub) --------------------------------------

    def hello(self, *args):
        return "Hello World"

    def getAPIVersion(self):
        return koji.API_VERSION

    def getKojiVersion(self):
        return KOJI_VERSION

    def getBuild(self, buildInfo, strict=False):
        build = self.find_build(buildInfo, strict)
        return None if build is None else public(build)

    def getBuildType(self, buildInfo, strict=False):
        build = self.find_build(buildInfo, strict)
        if build is None:
            return None
        typeinfo = (build["extra"] or {}).get("typeinfo") or {}
        return {btype: typeinfo.get(btype) for btype in typeinfo}

    def listArchives(self, buildID=None, buildrootID=None, componentBuildrootID=None,
                     hostID=None, type=None, filename=None, size=None, checksum=None,
                     checksum_type=None, typeInfo=None, queryOpts=None, imageID=None,
                     archiveID=None, strict=False):
        if type is not None and type not in self.btypes:
            raise koji.GenericError("unsupported archive type: %s" % type)
        rows = [row for rows in self.archives.values() for row in rows]
        rows = [r for r in rows
                if (buildID is None or r["build_id"] == buildID)
                and (type is None or r["btype"] == type)
                and (filename is None or r["filename"] == filename)
                and (archiveID is None or r["id"] == archiveID)]
        if strict and not rows:
            raise koji.GenericError("No archives found.")
        return rows

    def getBuildLogs(self, build):
        """kojihub's list_build_logs: walks the logs directory."""
        buildinfo = self.find_build(build, strict=True)
        logdir = self.pathinfo.build_logs(buildinfo)
        logreldir = os.path.relpath(logdir, self.topdir)
        if not os.path.exists(logdir):
            return []
        logs = []
        for dirpath, _dirs, files in os.walk(logdir):
            subdir = os.path.relpath(dirpath, logdir)
            for fn in files:
                relpath = os.path.join(logreldir, subdir, fn)
                logs.append({"name": fn, "dir": subdir, "path": relpath})
        return logs

    def multiCall(self, calls):
        results = []
        for call in calls:
            try:
                results.append([self.dispatch(call["methodName"], call.get("params", []))])
            except Exception as e:  # each call gets its own fault, as on the hub
                code, text = fault_of(e)
                results.append({"faultCode": code, "faultString": text,
                                "traceback": traceback.format_exception(e)})
        return results

    def dispatch(self, method, params):
        if method == "system.multicall":
            method = "multiCall"
        func = getattr(self, method, None)
        if method.startswith("_") or method in ("find_build", "dispatch") or not callable(func) \
                or not inspect.ismethod(func):
            raise koji.GenericError("Invalid method: %s" % method)
        args, kwargs = koji.decode_args(*params)
        return koji.util.call_with_argcheck(func, args, kwargs)


def fault_of(exc):
    """kojixmlrpc: Koji errors keep their code, anything else is code 1 with the class name."""
    if isinstance(exc, koji.GenericError):
        return exc.faultCode, str(exc)
    return 1, "%s: %s" % (exc.__class__, exc)


def zip_manifests(src, dest):
    """The archive as atomic-reactor makes it: deflated, paths relative to the manifests dir."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for root, dirs, files in os.walk(src):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                zf.write(full, os.path.relpath(full, src))


def make_hub_handler(hub, delay, offline):
    class HubHandler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def version_string(self):
            return "Apache"

        def log_message(self, fmt, *args):
            pass

        def _send(self, status, body, content_type, extra=()):
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Koji-Version", KOJI_VERSION)
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _not_post(self):
            self._send(405, "This is an XML-RPC server. Only POST requests are accepted.",
                       "text/plain", [("Allow", "POST")])

        do_GET = do_PUT = do_DELETE = do_HEAD = _not_post

        def do_POST(self):
            if self.path.rstrip("/") != "/kojihub":
                self._send(404, "Not Found", "text/plain")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_REQUEST:
                self._send(400, "Request too long", "text/plain")
                return
            data = self.rfile.read(length)
            if not data:
                self._send(400, "Empty request", "text/plain")
                return
            try:
                params, method = loads(data)
            except Exception as e:
                self._send(400, "Invalid request: %s" % e, "text/plain")
                return
            if delay:
                time.sleep(delay)
            try:
                if offline:
                    raise koji.ServerOffline("Server disabled for maintenance")
                result = hub.dispatch(method, params)
                body = dumps((result,), methodresponse=1, marshaller=HubMarshaller)
            except Exception as e:
                code, text = fault_of(e)
                body = dumps(Fault(code, text), marshaller=HubMarshaller)
            self._send(200, body, "text/xml")

    return HubHandler


def make_files_handler(root):
    class FilesHandler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=root, **kw)

        def log_message(self, fmt, *args):
            pass

        def list_directory(self, path):
            self.send_error(403, "Directory listing not allowed")
            return None

    return FilesHandler


def serve(server):
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    return t


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--fixtures", required=True, help="operator fixtures directory")
    p.add_argument("--topdir", required=True, help="empty directory for the file root")
    p.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    p.add_argument("--offline", action="store_true", help="answer every call ServerOffline")
    p.add_argument("--no-operator-manifests-btype", action="store_true",
                   help="a hub whose admin never created the operator-manifests btype")
    a = p.parse_args()
    btypes = dict(BTYPES)
    if a.no_operator_manifests_btype:
        del btypes["operator-manifests"]
    # The file root is served under /kojifiles so that URL joins below a path are exercised.
    topdir = os.path.join(a.topdir, "kojifiles")
    if os.path.exists(topdir):
        shutil.rmtree(topdir)
    os.makedirs(topdir)
    hub = Hub(a.fixtures, topdir, btypes)

    http.server.ThreadingHTTPServer.daemon_threads = True
    hub_server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), make_hub_handler(hub, a.delay, a.offline))
    files_server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), make_files_handler(a.topdir))
    serve(hub_server)
    serve(files_server)
    print(json.dumps({
        "hub": "http://127.0.0.1:%d/kojihub" % hub_server.server_address[1],
        "topurl": "http://127.0.0.1:%d/kojifiles" % files_server.server_address[1],
        "koji_version": KOJI_VERSION,
    }), flush=True)
    # Runs until the test kills it, or its stdin closes (the test process died).
    sys.stdin.read()


if __name__ == "__main__":
    main()
