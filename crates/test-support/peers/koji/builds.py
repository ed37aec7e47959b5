"""Builds the test Koji hub serves, recorded from the example payloads of
spec/koji-greenwave.md (section 4.2) and from the shapes OSBS imports.

Each entry is a build struct exactly as the hub's database layer returns it (ints, None,
strings for database times, floats for *_ts, nested `extra`), plus keys starting with `_`
that tell the test hub how to lay out and describe the build's files; those are stripped
before a build goes on the wire.

  _fixture        operator fixture directory (under --fixtures) zipped into the archive
  _log_dir        legacy builds: the logs subdirectory holding the archive ("." = the logs
                  directory itself, as OSBS did)
  _checksum       a recorded checksum that differs from the file (a corrupted import)
"""

ARCHIVE = "operator_manifests.zip"

# Times as the hub sends them: strings for the *_time columns, epoch floats for *_ts.
CREATED = "2024-11-14 14:54:20.342482+00:00"
CREATED_TS = 1731596060.342482
COMPLETED = "2024-11-14 15:02:41.007+00:00"
COMPLETED_TS = 1731596561.007


def _build(build_id, name, version, release, state=1, extra=None, volume="DEFAULT", **private):
    nvr = "%s-%s-%s" % (name, version, release)
    build = {
        "id": build_id,
        "build_id": build_id,
        "package_id": 7000 + build_id % 1000,
        "package_name": name,
        "name": name,
        "version": version,
        "release": release,
        "epoch": None,
        "nvr": nvr,
        "draft": False,
        "state": state,
        "task_id": None,
        "owner_id": 3210,
        "owner_name": "osbs",
        "volume_id": 0 if volume == "DEFAULT" else 4,
        "volume_name": volume,
        "creation_event_id": 54000000 + build_id % 100000,
        "creation_time": CREATED,
        "creation_ts": CREATED_TS,
        "start_time": CREATED,
        "start_ts": CREATED_TS,
        "completion_time": None if state == 0 else COMPLETED,
        "completion_ts": None if state == 0 else COMPLETED_TS,
        "promotion_time": None,
        "promotion_ts": None,
        "promoter_id": None,
        "promoter_name": None,
        "source": "git://pkgs.example.com/containers/%s#0f3c2a9d4e" % name,
        "cg_id": 1,
        "cg_name": "atomic-reactor",
        "extra": extra,
    }
    build.update({"_" + k: v for k, v in private.items()})
    return build


def _osbs_extra(typeinfo=True, legacy=True, submitter="osbs", subtypes=("operator_appregistry",)):
    """`extra` as atomic-reactor imports it for an operator image."""
    extra = {
        "container_koji_task_id": 4000000001,  # an i8 on the wire
        "submitter": submitter,
        "image": {
            "autorebuild": False,
            "isolated": False,
            "help": None,
            "media_types": [
                "application/vnd.docker.distribution.manifest.list.v2+json",
                "application/vnd.docker.distribution.manifest.v2+json",
            ],
            "parent_build_id": 2147483648,  # just past 32 bits: i8
            "index": {
                "pull": ["registry.example.com/ns/foo@sha256:" + "ab" * 32],
                "tags": ["1.0", "1.0-3", "latest"],
                "unique_tags": [],
            },
        },
        "osbs_build": {
            "kind": "container_build",
            "engine": "podman",
            "subtypes": list(subtypes),
        },
        "filesystem_koji_task_id": -2147483649,  # negative past 32 bits: i8
        "note": "",
    }
    if legacy:
        extra["operator_manifests_archive"] = ARCHIVE
    if typeinfo:
        extra["typeinfo"] = {
            "image": {"parent_build_id": 2147483648},
            "operator-manifests": {"archive": ARCHIVE},
        }
    return extra


BUILDS = [
    # spec 4.2: the preferred typeinfo location, DEFAULT volume.
    _build(1234567, "foo-operator-bundle-container", "1.0", "3",
           extra=_osbs_extra(submitter="Zoë Ünïcode ✓ 测试"), fixture="etcd"),
    # Legacy: the zip sits directly in the logs directory; getBuildLogs answers dir ".".
    _build(1234568, "etcd-operator-metadata-container", "0.9.4", "7",
           extra=_osbs_extra(typeinfo=False), fixture="etcd", log_dir="."),
    # Legacy with the zip in a logs subdirectory.
    _build(1234569, "noarch-operator-metadata-container", "1.2", "1",
           extra=_osbs_extra(typeinfo=False), fixture="etcd", log_dir="noarch"),
    # A build on another storage volume, with NVR characters that need percent-encoding.
    _build(1234570, "vol+operator-container", "2.0~rc1", "1^git.5",
           extra=_osbs_extra(), volume="archive2024", fixture="etcd"),
    # Not COMPLETE.
    _build(1234571, "failed-operator-container", "1.0", "1", state=3, extra=_osbs_extra()),
    _build(1234572, "building-operator-container", "1.0", "1", state=0, extra=_osbs_extra()),
    # Not an operator image: extra is nil.
    _build(1234573, "plain-container", "1.0", "1", extra=None),
    # Not an operator image: extra without any manifests key.
    _build(1234574, "base-image-container", "8.10", "1",
           extra={"image": {"autorebuild": True}, "osbs_build": {"subtypes": []}}),
    # Metadata names an archive that was never uploaded.
    _build(1234575, "missing-file-operator-container", "1.0", "1", extra=_osbs_extra()),
    # Legacy metadata, but no such file among the logs.
    _build(1234576, "missing-log-operator-container", "1.0", "1",
           extra=_osbs_extra(typeinfo=False)),
    # The recorded checksum does not match the file.
    _build(1234577, "badsum-operator-container", "1.0", "1", extra=_osbs_extra(),
           fixture="etcd", checksum="0" * 32),
    # A good build that Greenwave has no results for.
    _build(1234578, "ungated-operator-container", "1.0", "1", extra=_osbs_extra(),
           fixture="etcd"),
    # A build id beyond 32 bits (i8 ids happen on big hubs).
    _build(5000000001, "big-id-operator-container", "3.1", "2", extra=_osbs_extra(),
           fixture="etcd"),
]
