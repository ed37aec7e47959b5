//! Hostile input at the HTTP edge: every case is sent to the real `omps-server` binary (local
//! store, private `TMPDIR`), and must get its documented 4xx envelope while the server keeps
//! answering `/v1/health/ping`, its peak RSS stays under [`RSS_BOUND_KIB`], no file is left in its
//! temporary directory and nothing reaches the store.
//!
//! The archives are built by hand (every header field can lie), as in manifest-bundle's
//! `hostile_archives.rs`; this file adds zip64 end records for the 100k-entry case.

mod common;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{AUTH, BOUNDARY, CSV, PACKAGE, multipart, zip_of};
use serde_json::Value;
use test_support::server::{Log, OmpsServer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Peak resident set size allowed for the server process over a whole battery (VmHWM). Measured:
/// ~20 MiB idle, ~50 MiB after the battery, ~95 MiB with eight YAML bombs at once. (Before the
/// alias-expansion budget, one billion-laughs document alone took ~210 MiB, eight ~1.5 GiB.)
const RSS_BOUND_KIB: u64 = 128 * 1024;
const MIB: usize = 1024 * 1024;
/// Defaults of the spec (§10.2).
const ZIP_MAX: u64 = 20 * 1024 * 1024;

// ------------------------------------------------------------------------------------------------
// The server under test.

/// The shared harness's server plus the invariants these batteries check.
struct Server {
    inner: OmpsServer,
    base: String,
    addr: String,
    data: PathBuf,
    tmp: PathBuf,
}

impl Server {
    fn start(env: &[(&str, &str)]) -> Self {
        let inner = OmpsServer::builder(env!("CARGO_BIN_EXE_omps-server"))
            .env("OMPS_LOG", "warn")
            .envs(env.iter().copied())
            .log(Log::Null)
            .start();
        Server {
            base: inner.base().to_owned(),
            addr: inner.addr().to_owned(),
            data: inner.data_dir().to_owned(),
            tmp: inner.tmp_dir(),
            inner,
        }
    }

    /// VmHWM of the server process in KiB.
    fn peak_rss_kib(&self) -> u64 {
        self.inner.peak_rss_kib()
    }

    fn alive(&mut self) -> bool {
        self.inner.alive()
    }

    async fn ping(&self) -> Result<(), String> {
        let started = Instant::now();
        let r = client()
            .get(format!("{}/v1/health/ping", self.base))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| format!("health ping failed: {e}"))?;
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if status != 200 || body["ok"] != true {
            return Err(format!("health ping answered {status} {body}"));
        }
        if started.elapsed() > Duration::from_secs(2) {
            return Err(format!("health ping took {:?}", started.elapsed()));
        }
        Ok(())
    }

    /// The invariants every battery ends with.
    async fn assert_clean(&mut self) {
        assert!(self.alive(), "server died");
        self.ping().await.unwrap();
        let peak = self.peak_rss_kib();
        assert!(
            peak < RSS_BOUND_KIB,
            "peak RSS {peak} KiB over {RSS_BOUND_KIB} KiB"
        );
        eprintln!("server peak RSS: {peak} KiB");
        // Spooled uploads are removed before the response is written; give an aborted
        // connection a moment to be noticed.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !leftovers(&self.tmp).is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(leftovers(&self.tmp), Vec::<String>::new(), "TMPDIR");
        assert_eq!(
            test_support::server::files_under(&self.data),
            Vec::<String>::new(),
            "store"
        );
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

// ------------------------------------------------------------------------------------------------
// Hand-built archives.

/// One entry of a hand-built archive. Every field can lie, which is the point.
#[derive(Clone)]
struct Entry {
    name: Vec<u8>,
    data: Vec<u8>,
    deflate: bool,
    flags: u16,
    method: Option<u16>,
    crc: Option<u32>,
    declared_size: Option<u32>,
    unix_mode: Option<u32>,
    /// Point the central directory at the local header of an earlier entry.
    reuse_offset_of: Option<usize>,
}

fn entry(name: &str, data: &[u8]) -> Entry {
    Entry {
        name: name.as_bytes().to_vec(),
        data: data.to_vec(),
        deflate: false,
        flags: 0,
        method: None,
        crc: None,
        declared_size: None,
        unix_mode: None,
        reuse_offset_of: None,
    }
}

fn deflated(name: &str, data: &[u8]) -> Entry {
    Entry {
        deflate: true,
        ..entry(name, data)
    }
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    crc.sum()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// How the end of the archive is written.
#[derive(Clone, Copy)]
enum End {
    /// The classic 16-bit end record with the true entry count.
    Classic,
    /// Zip64 end record and locator (the classic record says 0xFFFF).
    Zip64,
    /// A classic end record claiming this many entries.
    Claim(u16),
}

fn build(entries: &[Entry]) -> Vec<u8> {
    build_with(entries, End::Classic)
}

/// Writes a zip archive by hand (local headers, central directory, end records).
#[allow(clippy::cast_possible_truncation)]
fn build_with(entries: &[Entry], end: End) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let mut offsets: Vec<u32> = Vec::new();
    let mut payload_lens: Vec<u32> = Vec::new();
    for e in entries {
        let payload = if e.deflate {
            deflate(&e.data)
        } else {
            e.data.clone()
        };
        let method = e.method.unwrap_or(if e.deflate { 8 } else { 0 });
        let crc = e.crc.unwrap_or_else(|| crc32(&e.data));
        let size = e.declared_size.unwrap_or(e.data.len() as u32);
        let (offset, payload_len) = if let Some(i) = e.reuse_offset_of {
            (offsets[i], payload_lens[i])
        } else {
            let offset = out.len() as u32;
            out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
            out.extend_from_slice(&20u16.to_le_bytes());
            out.extend_from_slice(&e.flags.to_le_bytes());
            out.extend_from_slice(&method.to_le_bytes());
            out.extend_from_slice(&[0, 0, 0x21, 0]); // time, date (1980-01-01)
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&e.name);
            out.extend_from_slice(&payload);
            (offset, payload.len() as u32)
        };
        offsets.push(offset);
        payload_lens.push(payload_len);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        let made_by: u16 = if e.unix_mode.is_some() {
            (3 << 8) | 0x14
        } else {
            20
        };
        central.extend_from_slice(&made_by.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&e.flags.to_le_bytes());
        central.extend_from_slice(&method.to_le_bytes());
        central.extend_from_slice(&[0, 0, 0x21, 0]);
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&payload_len.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]); // extra, comment, disk, internal attrs
        central.extend_from_slice(&(e.unix_mode.unwrap_or(0) << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(&e.name);
    }
    let cd_offset = out.len() as u64;
    out.extend_from_slice(&central);
    let count = entries.len() as u64;
    let classic_count = match end {
        End::Classic => count as u16,
        End::Zip64 => {
            let record = out.len() as u64;
            out.extend_from_slice(&0x0606_4b50u32.to_le_bytes());
            out.extend_from_slice(&44u64.to_le_bytes());
            out.extend_from_slice(&45u16.to_le_bytes());
            out.extend_from_slice(&45u16.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            out.extend_from_slice(&(central.len() as u64).to_le_bytes());
            out.extend_from_slice(&cd_offset.to_le_bytes());
            out.extend_from_slice(&0x0706_4b50u32.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&record.to_le_bytes());
            out.extend_from_slice(&1u32.to_le_bytes());
            0xFFFF
        }
        End::Claim(n) => n,
    };
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&classic_count.to_le_bytes());
    out.extend_from_slice(&classic_count.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&(cd_offset as u32).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn with_mode(mut e: Entry, mode: u32) -> Entry {
    e.unix_mode = Some(mode);
    e
}

fn named(raw: &[u8]) -> Entry {
    let mut e = entry("x", b"data");
    e.name = raw.to_vec();
    e
}

// ------------------------------------------------------------------------------------------------
// Cases.

#[derive(Clone)]
enum Msg {
    Exact(String),
    Prefix(String),
    Contains(String),
}

enum Payload {
    Bytes(Vec<u8>),
    /// Sent with `Transfer-Encoding: chunked` (no `Content-Length`).
    Chunked(Vec<u8>),
}

struct Case {
    name: &'static str,
    path: String,
    auth: bool,
    content_type: Option<String>,
    payload: Payload,
    status: u16,
    error: &'static str,
    message: Msg,
}

fn exact(s: impl Into<String>) -> Msg {
    Msg::Exact(s.into())
}

const PUSH: &str = "/v2/hostile/zipfile";
const MULTIPART: &str = "multipart/form-data; boundary=omps-test-boundary";

/// A well-formed upload of `zip` as `m.zip` whose answer is 400 `error` with `message`.
fn upload(name: &'static str, zip: &[u8], error: &'static str, message: Msg) -> Case {
    Case {
        name,
        path: PUSH.into(),
        auth: true,
        content_type: Some(MULTIPART.into()),
        payload: Payload::Bytes(multipart("m.zip", zip)),
        status: 400,
        error,
        message,
    }
}

fn bad_file(name: &'static str, zip: &[u8], message: Msg) -> Case {
    upload(name, zip, "OMPSUploadedFileError", message)
}

fn bad_package(name: &'static str, zip: &[u8], message: Msg) -> Case {
    upload(name, zip, "PackageValidationError", message)
}

fn unsafe_path(name: &'static str, raw: &[u8]) -> Case {
    let shown = String::from_utf8_lossy(raw).into_owned();
    bad_file(
        name,
        &build(&[named(raw)]),
        exact(format!("Archive entry '{shown}' has an unsafe path")),
    )
}

fn too_large(seen: u64) -> Msg {
    exact(format!(
        "Uncompressed archive is larger than limit ({seen}B>{ZIP_MAX}B)"
    ))
}

const NOT_A_ZIP: &str = "File is not a zip file";
const NO_FIELD: &str = "No field \"file\" in uploaded data";
const NO_SELECTED: &str = "No selected \"file\" in uploaded data";
const TOO_LARGE_413: &str = "The data value transmitted exceeds the capacity limit (2097152 \
                             bytes; the server's max_content_length setting).";

/// A multipart body whose single part has the given `Content-Disposition` value.
fn raw_part(disposition: &str, data: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\nContent-Type: application/zip\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn multipart_case(name: &'static str, content_type: &str, body: Vec<u8>, message: &str) -> Case {
    Case {
        name,
        path: PUSH.into(),
        auth: true,
        content_type: Some(content_type.into()),
        payload: Payload::Bytes(body),
        status: 400,
        error: "OMPSExpectedFileError",
        message: exact(message),
    }
}

fn yaml_zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    // Deflated, so that megabytes of repetitive YAML fit in the 2 MiB body.
    let entries: Vec<Entry> = files.iter().map(|(n, d)| deflated(n, d)).collect();
    build(&entries)
}

fn billion_laughs() -> Vec<u8> {
    let mut y = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in names.windows(2) {
        let refs = vec![format!("*{}", pair[0]); 9].join(", ");
        let _ = writeln!(y, "{}: &{} [{refs}]", pair[1], pair[1]);
    }
    y.push_str("packageName: laughs\n");
    y.into_bytes()
}

#[allow(clippy::too_many_lines)]
fn battery() -> Vec<Case> {
    let mut cases = Vec::new();

    // Zip bombs.
    let zeros = vec![0u8; 64 * MIB];
    let bomb = build(&[deflated("zeros.yaml", &zeros)]);
    assert!(bomb.len() < 200 * 1024, "the bomb is small");
    cases.push(bad_file(
        "deflate bomb, honest declared size",
        &bomb,
        too_large(64 * MIB as u64),
    ));
    let mut lie = entry("big.yaml", b"small");
    lie.declared_size = Some(30 * 1024 * 1024);
    cases.push(bad_file(
        "declared size over the limit",
        &build(&[lie]),
        too_large(30 * 1024 * 1024),
    ));
    let mut huge = entry("big.yaml", b"small");
    huge.declared_size = Some(u32::MAX);
    cases.push(bad_file(
        "declared size u32::MAX",
        &build(&[huge]),
        too_large(u64::from(u32::MAX)),
    ));
    let mut liar = deflated("zeros.yaml", &vec![0u8; 30 * MIB]);
    liar.declared_size = Some(100);
    cases.push(bad_file(
        "lying bomb: declares 100 B, inflates to 30 MiB",
        &build(&[liar]),
        exact("Archive is corrupt: zeros.yaml: File is larger than its declared uncompressed size"),
    ));
    let mut split: Vec<Entry> = (0..4)
        .map(|i| {
            let mut e = deflated(&format!("part{i}.yaml"), &vec![b'x'; 8 * MIB]);
            e.declared_size = Some(10);
            e
        })
        .collect();
    split[0].name = b"a.yaml".to_vec();
    cases.push(bad_file(
        "lying entries that each stay under the total",
        &build(&split),
        exact("Archive is corrupt: a.yaml: File is larger than its declared uncompressed size"),
    ));
    let kernel = deflated("kernel.yaml", &vec![b'k'; 100_000]);
    let mut overlapping = vec![kernel.clone()];
    for i in 1..20 {
        let mut e = kernel.clone();
        e.name = format!("copy{i}.yaml").into_bytes();
        e.reuse_offset_of = Some(0);
        overlapping.push(e);
    }
    cases.push(bad_file(
        "overlapping entries (non-recursive bomb)",
        &build(&overlapping),
        exact("Archive entry 'copy1.yaml' overlaps another entry"),
    ));
    let big_kernel = deflated("kernel.yaml", &vec![b'k'; 2 * MIB]);
    let mut overlapping = vec![big_kernel.clone()];
    for i in 1..20 {
        let mut e = big_kernel.clone();
        e.name = format!("copy{i}.yaml").into_bytes();
        e.reuse_offset_of = Some(0);
        overlapping.push(e);
    }
    cases.push(bad_file(
        "overlapping entries declaring 40 MiB",
        &build(&overlapping),
        too_large(40 * MIB as u64),
    ));
    let inner = build(&[deflated("zeros.yaml", &zeros)]);
    cases.push(bad_package(
        "zip inside a zip is not extracted",
        &build(&[entry("inner.zip", &inner)]),
        exact("Could not find packageName in manifests."),
    ));

    // Entry counts and names.
    let many: Vec<Entry> = (0..1001)
        .map(|i| entry(&format!("f{i}.yaml"), b"x"))
        .collect();
    cases.push(bad_file(
        "1001 entries",
        &build(&many),
        exact("Archive has too many entries (1001 > 1000)"),
    ));
    cases.push(bad_file(
        "end record claims 65535 entries, holds one",
        &build_with(&[entry("a.yaml", b"a")], End::Claim(0xFFFF)),
        exact(NOT_A_ZIP),
    ));
    cases.push(bad_file(
        "giant name (60000 bytes)",
        &build(&[entry(&"a".repeat(60_000), b"x")]),
        Msg::Contains("has a path longer than 1024 bytes or deeper than 32 levels".into()),
    ));
    cases.push(bad_file(
        "path 41 levels deep",
        &build(&[entry(&format!("{}f.yaml", "d/".repeat(40)), b"x")]),
        exact(format!(
            "Archive entry '{}f.yaml' has a path longer than 1024 bytes or deeper than 32 levels",
            "d/".repeat(40)
        )),
    ));
    cases.push(bad_file(
        "name that is not UTF-8",
        &build(&[named(b"caf\xe9.yaml")]),
        exact("Archive entry 'caf\u{fffd}.yaml' has a name that is not valid UTF-8"),
    ));
    cases.push(bad_file(
        "duplicate names",
        &build(&[entry("a.yaml", b"1"), entry("a.yaml", b"2")]),
        exact("Archive entry 'a.yaml' is duplicated"),
    ));
    cases.push(bad_file(
        "file and directory with one name",
        &build(&[entry("a", b"1"), entry("a/b.yaml", b"2")]),
        exact("Archive entry 'a/b.yaml' is duplicated"),
    ));

    // Zip-slip and absolute paths.
    cases.push(unsafe_path("zip-slip ../", b"../evil.yaml"));
    cases.push(unsafe_path("zip-slip nested", b"a/../../evil.yaml"));
    cases.push(unsafe_path("zip-slip backslashes", b"..\\..\\evil.yaml"));
    cases.push(unsafe_path("absolute path", b"/etc/passwd"));
    cases.push(unsafe_path("drive letter", b"C:/windows/evil.yaml"));
    cases.push(unsafe_path("NUL in name", b"a.yaml\0.txt"));
    cases.push(unsafe_path("dot component", b"./a.yaml"));
    cases.push(unsafe_path("empty component", b"a//b.yaml"));

    // Links and special files.
    cases.push(bad_file(
        "symlink to /etc/passwd",
        &build(&[with_mode(entry("link.yaml", b"/etc/passwd"), 0o120_777)]),
        exact("Archive entry 'link.yaml' is not a regular file"),
    ));
    cases.push(bad_file(
        "symlinked directory",
        &build(&[
            with_mode(entry("dir", b"/etc"), 0o120_777),
            entry("p.yaml", PACKAGE.as_bytes()),
        ]),
        exact("Archive entry 'dir' is not a regular file"),
    ));
    cases.push(bad_file(
        "FIFO entry",
        &build(&[with_mode(entry("fifo", b""), 0o010_644)]),
        exact("Archive entry 'fifo' is not a regular file"),
    ));
    cases.push(bad_file(
        "block device entry",
        &build(&[with_mode(entry("sda", b""), 0o060_644)]),
        exact("Archive entry 'sda' is not a regular file"),
    ));

    // Encryption, checksums, compression methods.
    let mut enc = entry("secret.yaml", b"\x00\x01garbage");
    enc.flags = 1;
    cases.push(bad_file(
        "encrypted entry",
        &build(&[enc]),
        exact("File 'secret.yaml' is encrypted, password required for extraction"),
    ));
    let mut crc = entry("a.yaml", b"kind: x\n");
    crc.crc = Some(0xdead_beef);
    cases.push(bad_file(
        "CRC mismatch, stored",
        &build(&[crc]),
        exact("CRC check failed for file a.yaml in archive"),
    ));
    let mut crc = deflated("b.yaml", &[b'x'; 10_000]);
    crc.crc = Some(1);
    cases.push(bad_file(
        "CRC mismatch, deflated",
        &build(&[crc]),
        exact("CRC check failed for file b.yaml in archive"),
    ));
    let mut bz = entry("a.yaml", b"BZh9...");
    bz.method = Some(12);
    cases.push(bad_file(
        "bzip2 compression method",
        &build(&[bz]),
        exact("Archive entry 'a.yaml' uses an unsupported compression method"),
    ));

    // Not a zip at all.
    let good = build(&[entry("a.yaml", &[b'a'; 4000]), entry("b.yaml", b"b")]);
    cases.push(bad_file(
        "truncated archive",
        &good[..good.len() / 2],
        exact(NOT_A_ZIP),
    ));
    cases.push(bad_file(
        "archive without its end record",
        &good[..good.len() - 22],
        exact(NOT_A_ZIP),
    ));
    cases.push(bad_file(
        "plain text",
        b"this is not a zip",
        exact(NOT_A_ZIP),
    ));
    cases.push(bad_file("empty file", b"", exact(NOT_A_ZIP)));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(PACKAGE.as_bytes()).unwrap();
    cases.push(bad_file(
        "gzip data named .zip",
        &gz.finish().unwrap(),
        exact(NOT_A_ZIP),
    ));
    cases.push(bad_file(
        "only an end record signature",
        b"PK\x05\x06",
        exact(NOT_A_ZIP),
    ));

    // Hostile YAML inside a well-formed zip.
    cases.push(bad_package(
        "billion laughs",
        &yaml_zip(&[("a.yaml", &billion_laughs())]),
        exact("Failed to process yaml file /a.yaml"),
    ));
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    cases.push(bad_package(
        "100k nested flow sequences",
        &yaml_zip(&[("deep.yaml", deep.as_bytes())]),
        exact("Failed to process yaml file /deep.yaml"),
    ));
    let deep_map = format!("{}1{}", "{a: ".repeat(50_000), "}".repeat(50_000));
    cases.push(bad_package(
        "50k nested flow mappings",
        &yaml_zip(&[("deep.yaml", deep_map.as_bytes())]),
        exact("Failed to process yaml file /deep.yaml"),
    ));
    let mut deep_block = String::new();
    for i in 0..1000 {
        deep_block.push_str(&" ".repeat(i));
        deep_block.push_str("- \n");
    }
    cases.push(bad_package(
        "1000 nested block sequences",
        &yaml_zip(&[("deep.yaml", deep_block.as_bytes())]),
        exact("Failed to process yaml file /deep.yaml"),
    ));
    cases.push(bad_package(
        "invalid UTF-8 in YAML",
        &yaml_zip(&[("bad.yaml", b"packageName: caf\xe9\n")]),
        exact("Failed to process yaml file /bad.yaml"),
    ));
    cases.push(bad_package(
        "sequence root",
        &yaml_zip(&[("list.yaml", b"- packageName: x\n")]),
        exact("Could not find packageName in manifests."),
    ));
    cases.push(bad_package(
        "scalar root",
        &yaml_zip(&[("scalar.yaml", b"packageName\n")]),
        exact("Could not find packageName in manifests."),
    ));
    cases.push(bad_package(
        "multi-document package file",
        &yaml_zip(&[("a.yaml", b"packageName: x\n---\npackageName: y\n")]),
        exact("Failed to process yaml file /a.yaml"),
    ));
    cases.push(bad_package(
        "alias to an unknown anchor",
        &yaml_zip(&[("a.yaml", b"packageName: *nowhere\n")]),
        exact("Failed to process yaml file /a.yaml"),
    ));
    let mut long_line = b"junk: ".to_vec();
    long_line.extend(std::iter::repeat_n(b'y', 12 * MIB));
    cases.push(bad_package(
        "12 MiB single line (over the YAML size budget)",
        &yaml_zip(&[("a.yaml", &long_line)]),
        exact("Failed to process yaml file /a.yaml"),
    ));
    cases.push(bad_package(
        "manifests under a top-level directory",
        &zip_of(&[
            ("sub/packages.yaml", PACKAGE.as_bytes()),
            ("sub/csv.yaml", CSV.as_bytes()),
        ]),
        exact("Could not find packageName in manifests."),
    ));

    // Bodies over the limit (2 MiB by default).
    cases.push(Case {
        name: "body of 65535 entries over the body limit",
        path: PUSH.into(),
        auth: true,
        content_type: Some(MULTIPART.into()),
        payload: Payload::Bytes(multipart(
            "m.zip",
            &build(
                &(0..65_535)
                    .map(|i| entry(&i.to_string(), b""))
                    .collect::<Vec<_>>(),
            ),
        )),
        status: 413,
        error: "RequestEntityTooLarge",
        message: exact(TOO_LARGE_413),
    });
    cases.push(Case {
        name: "3 MiB body with Content-Length",
        path: PUSH.into(),
        auth: true,
        content_type: Some(MULTIPART.into()),
        payload: Payload::Bytes(multipart("m.zip", &vec![7u8; 3 * MIB])),
        status: 413,
        error: "RequestEntityTooLarge",
        message: exact(TOO_LARGE_413),
    });
    cases.push(Case {
        name: "3 MiB chunked body",
        path: PUSH.into(),
        auth: true,
        content_type: Some(MULTIPART.into()),
        payload: Payload::Chunked(multipart("m.zip", &vec![7u8; 3 * MIB])),
        status: 413,
        error: "RequestEntityTooLarge",
        message: exact(TOO_LARGE_413),
    });

    // Bad multipart.
    let zip = common::flat_zip();
    cases.push(multipart_case(
        "multipart without boundary",
        "multipart/form-data",
        multipart("m.zip", &zip),
        NO_FIELD,
    ));
    cases.push(multipart_case(
        "not multipart (raw zip body)",
        "application/zip",
        zip.clone(),
        NO_FIELD,
    ));
    cases.push(multipart_case("no Content-Type", "", zip.clone(), NO_FIELD));
    let mut truncated = multipart("m.zip", &zip);
    truncated.truncate(truncated.len() - 30);
    cases.push(multipart_case(
        "truncated part (no closing boundary)",
        MULTIPART,
        truncated,
        NO_FIELD,
    ));
    cases.push(multipart_case(
        "garbage instead of part headers",
        MULTIPART,
        format!("--{BOUNDARY}\r\n\x00\x01\x02 garbage\r\n\r\n--{BOUNDARY}--\r\n").into_bytes(),
        NO_FIELD,
    ));
    cases.push(multipart_case(
        "wrong field name",
        MULTIPART,
        raw_part("form-data; name=\"archive\"; filename=\"m.zip\"", &zip),
        NO_FIELD,
    ));
    cases.push(multipart_case(
        "empty filename",
        MULTIPART,
        raw_part("form-data; name=\"file\"; filename=\"\"", &zip),
        NO_SELECTED,
    ));
    cases.push(multipart_case(
        "empty multipart (closing boundary only)",
        MULTIPART,
        format!("--{BOUNDARY}--\r\n").into_bytes(),
        NO_FIELD,
    ));
    cases.push(Case {
        name: "filename extension .gz",
        path: PUSH.into(),
        auth: true,
        content_type: Some(MULTIPART.into()),
        payload: Payload::Bytes(multipart("archive.tar.gz", &zip)),
        status: 400,
        error: "OMPSUploadedFileError",
        message: exact("Uploaded file extension \".gz\" is not supported: upload a .zip archive"),
    });
    cases.push(Case {
        name: "filename with only a leading dot",
        path: PUSH.into(),
        auth: true,
        content_type: Some(MULTIPART.into()),
        payload: Payload::Bytes(multipart(".zip", &zip)),
        status: 400,
        error: "OMPSUploadedFileError",
        message: exact("Uploaded file extension \"\" is not supported: upload a .zip archive"),
    });
    cases.push(Case {
        name: "64 KiB filename",
        path: PUSH.into(),
        auth: true,
        content_type: Some(MULTIPART.into()),
        payload: Payload::Bytes(multipart(&format!("{}.exe", "f".repeat(64 * 1024)), &zip)),
        status: 400,
        error: "OMPSUploadedFileError",
        message: exact("Uploaded file extension \".exe\" is not supported: upload a .zip archive"),
    });

    // Ordering: authorization and the version are checked before the body is read.
    cases.push(Case {
        name: "no Authorization with a bomb",
        path: PUSH.into(),
        auth: false,
        content_type: Some(MULTIPART.into()),
        payload: Payload::Bytes(multipart("m.zip", &bomb)),
        status: 403,
        error: "OMPSAuthorizationHeaderRequired",
        message: exact("Request contains no 'Authorization' header"),
    });
    cases.push(Case {
        name: "invalid version with a bomb",
        path: format!("{PUSH}/1.0.0-{}", "9".repeat(200)),
        auth: true,
        content_type: Some(MULTIPART.into()),
        payload: Payload::Bytes(multipart("m.zip", &bomb)),
        status: 400,
        error: "OMPSInvalidVersionFormat",
        // An overlong version is not echoed.
        message: Msg::Contains("Version '(206 bytes, not shown)'".into()),
    });
    cases.push(Case {
        name: "dot-dot segment in the organization",
        path: "/v2/%2e%2e/zipfile".into(),
        auth: true,
        content_type: Some(MULTIPART.into()),
        payload: Payload::Bytes(multipart("m.zip", &zip)),
        status: 404,
        error: "NotFound",
        message: Msg::Prefix("The requested URL was not found on the server.".into()),
    });
    cases
}

/// Sends one case; `Err` describes what was wrong.
async fn run_case(server: &Server, case: Case) -> Result<(), String> {
    let (status, content_type, text) = match case.payload {
        Payload::Bytes(b) if b.len() > 2 * MIB => {
            raw_post(
                &server.addr,
                &case.path,
                case.auth,
                case.content_type.as_deref(),
                b,
            )
            .await
        }
        payload => {
            let mut request = client().post(format!("{}{}", server.base, case.path));
            if case.auth {
                request = request.header("authorization", AUTH);
            }
            if let Some(ct) = case.content_type.as_deref().filter(|c| !c.is_empty()) {
                request = request.header("content-type", ct);
            }
            request = match payload {
                Payload::Bytes(b) => request.body(b),
                Payload::Chunked(b) => {
                    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
                        b.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
                    request.body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                        chunks,
                    )))
                }
            };
            let response = request.send().await.map_err(|e| format!("send: {e}"))?;
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let text = response.text().await.map_err(|e| format!("body: {e}"))?;
            (status, content_type, text)
        }
    };
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let message = body["message"].as_str().unwrap_or_default();
    let message_ok = match &case.message {
        Msg::Exact(m) => message == m,
        Msg::Prefix(m) => message.starts_with(m.as_str()),
        Msg::Contains(m) => message.contains(m.as_str()),
    };
    let ok = status == case.status
        && body["status"] == case.status
        && body["error"] == case.error
        && content_type == "application/json"
        && message_ok
        && text.len() < 8 * 1024;
    if ok {
        Ok(())
    } else {
        let shown: String = text.chars().take(600).collect();
        Err(format!(
            "expected {} {} {:?}, got {status} ({content_type}) {shown}",
            case.status,
            case.error,
            match case.message {
                Msg::Exact(m) | Msg::Prefix(m) | Msg::Contains(m) =>
                    m.chars().take(200).collect::<String>(),
            }
        ))
    }
}

#[tokio::test]
async fn hostile_battery_against_the_binary() {
    let mut server = Server::start(&[]);
    let cases = battery();
    let count = cases.len();
    assert!(count >= 40, "only {count} cases");
    let started = Instant::now();
    let mut failures = Vec::new();
    for case in cases {
        let name = case.name;
        let case_started = Instant::now();
        if let Err(e) = run_case(&server, case).await {
            failures.push(format!("{name}: {e}"));
        }
        if case_started.elapsed() > Duration::from_secs(15) {
            failures.push(format!("{name}: took {:?}", case_started.elapsed()));
        }
        if let Err(e) = server.ping().await {
            failures.push(format!("after {name}: {e}"));
        }
        eprintln!("{name}: peak RSS {} KiB", server.peak_rss_kib());
        if !server.alive() {
            failures.push(format!("server died after {name}"));
            break;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("{count} hostile cases in {:?}", started.elapsed());
    server.assert_clean().await;
}

/// Entry counts beyond the classic 16-bit field need a body above the 2 MiB default, so this
/// server accepts 16 MiB bodies; the entry limit must still answer before anything is inflated.
#[tokio::test]
async fn hundred_thousand_entries() {
    let mut server = Server::start(&[("OMPS_MAX_CONTENT_LENGTH", "16777216")]);
    let classic: Vec<Entry> = (0..65_535).map(|i| entry(&i.to_string(), b"")).collect();
    let zip64: Vec<Entry> = (0..100_000)
        .map(|i| {
            let mut e = entry(&i.to_string(), b"");
            // One shared local header keeps the body small; the count is checked first.
            if i > 0 {
                e.reuse_offset_of = Some(0);
            }
            e
        })
        .collect();
    let cases = vec![
        bad_file(
            "65535 entries (classic end record)",
            &build(&classic),
            exact("Archive has too many entries (65535 > 1000)"),
        ),
        bad_file(
            "100000 entries (zip64 end record)",
            &build_with(&zip64, End::Zip64),
            exact("Archive has too many entries (100000 > 1000)"),
        ),
    ];
    for case in cases {
        let name = case.name;
        let started = Instant::now();
        run_case(&server, case)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{name} took {:?}",
            started.elapsed()
        );
        server.ping().await.unwrap();
    }
    server.assert_clean().await;
}

/// A raw request head for a multipart push with this `Content-Length`.
fn request_head(addr: &str, content_length: usize) -> String {
    format!(
        "POST {PUSH} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {AUTH}\r\nContent-Type: {MULTIPART}\r\nContent-Length: {content_length}\r\n\r\n"
    )
}

/// Reads an HTTP/1.1 response head and a `Content-Length` body from a raw connection.
async fn read_response(stream: &mut tokio::net::TcpStream) -> (u16, Value) {
    read_response_from(stream).await
}

async fn read_response_from(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> (u16, Value) {
    let (status, _, body) = read_raw(stream).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Status, lower-cased head and body of one HTTP/1.1 response with a `Content-Length`.
async fn read_raw(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> (u16, String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                let status = head[9..12].parse().unwrap();
                return (status, head, buf[end + 4..end + 4 + length].to_vec());
            }
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(remaining, stream.read(&mut chunk))
            .await
            .expect("no response in time")
            .unwrap();
        assert!(n > 0, "connection closed before a full response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Sends a request over a raw connection, writing the body concurrently with reading the answer:
/// a server that answers 413 before reading everything would otherwise make the client fail on
/// a reset connection before it sees the response.
async fn raw_post(
    addr: &str,
    path: &str,
    auth: bool,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, String, String) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\n");
    if auth {
        let _ = write!(head, "Authorization: {AUTH}\r\n");
    }
    if let Some(ct) = content_type.filter(|c| !c.is_empty()) {
        let _ = write!(head, "Content-Type: {ct}\r\n");
    }
    let _ = write!(head, "Content-Length: {}\r\n\r\n", body.len());
    let writer_task = tokio::spawn(async move {
        if writer.write_all(head.as_bytes()).await.is_ok() {
            for chunk in body.chunks(64 * 1024) {
                if writer.write_all(chunk).await.is_err() {
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    });
    let (status, head, body) = read_raw(&mut reader).await;
    writer_task.abort();
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("content-type:"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    (
        status,
        content_type,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// A `Content-Length` of 1 GiB: the limit is enforced on the bytes as they arrive, so the answer
/// comes once 2 MiB have been read, long before the declared size.
#[tokio::test]
async fn huge_declared_content_length_is_cut_at_the_limit() {
    let mut server = Server::start(&[]);
    let stream = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = request_head(&server.addr, 1 << 30);
    let writer_task = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await.unwrap();
        let part = multipart("m.zip", &vec![b'z'; 4 * MIB]);
        let mut sent = 0;
        for chunk in part.chunks(64 * 1024) {
            if writer.write_all(chunk).await.is_err() {
                break; // the server answered and hung up
            }
            sent += chunk.len();
        }
        // Keep the write half open until the test ends, so only the server can end the exchange.
        tokio::time::sleep(Duration::from_secs(10)).await;
        sent
    });
    let started = Instant::now();
    let (status, body) = read_response_from(&mut reader).await;
    assert_eq!(
        (status, body["error"].as_str(), body["message"].as_str()),
        (413, Some("RequestEntityTooLarge"), Some(TOO_LARGE_413)),
        "{body}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    writer_task.abort();
    server.assert_clean().await;
}

/// Eight billion-laughs uploads at once (the default `max_concurrent_pushes`) must not multiply
/// the single-document cost: the server stays under the same bound as the battery.
#[tokio::test]
async fn concurrent_yaml_bombs_stay_bounded() {
    let mut server = Server::start(&[]);
    let zip = yaml_zip(&[("a.yaml", &billion_laughs())]);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (base, zip) = (server.base.clone(), zip.clone());
        tasks.push(tokio::spawn(async move {
            client()
                .post(format!("{base}{PUSH}"))
                .header("authorization", AUTH)
                .header("content-type", MULTIPART)
                .body(multipart("m.zip", &zip))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 400);
    }
    server.assert_clean().await;
}

/// A `file` part without a `filename` parameter is a plain form field for werkzeug, so upstream
/// answered "No field" (§5.3 step 4), not "No selected" (step 5, an empty filename).
#[tokio::test]
async fn file_part_without_filename_is_no_field() {
    let mut server = Server::start(&[]);
    let case = multipart_case(
        "file part without a filename parameter",
        MULTIPART,
        raw_part("form-data; name=\"file\"", &common::flat_zip()),
        NO_FIELD,
    );
    run_case(&server, case).await.unwrap();
    server.assert_clean().await;
}

/// A request that pushes a valid package into an organization, or under a package name, too long
/// for a file name is a client error with a short message (it once was a 500 from the local
/// store's ENAMETOOLONG, echoing the whole name).
#[tokio::test]
async fn overlong_names_are_client_errors() {
    let mut server = Server::start(&[]);
    let long_org = format!("/v2/{}/zipfile", "o".repeat(300));
    let mut long_name = b"packageName: ".to_vec();
    long_name.extend(std::iter::repeat_n(b'n', MIB));
    let cases = [
        Case {
            name: "300-byte organization",
            path: long_org,
            status: 404,
            ..upload(
                "",
                &common::flat_zip(),
                "NotFound",
                Msg::Prefix("The requested URL was not found on the server.".into()),
            )
        },
        bad_package(
            "1 MiB packageName",
            &yaml_zip(&[("p.yaml", &long_name), ("csv.yaml", CSV.as_bytes())]),
            exact("Failed to push manifest: packageName is longer than 255 bytes"),
        ),
    ];
    for case in cases {
        let name = case.name;
        run_case(&server, case)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    server.assert_clean().await;
}

/// Organizations are client-chosen URL segments; using them as metric labels would let any client
/// grow `/metrics` (and the server's memory) without bound, one series per invented organization.
#[tokio::test]
async fn metrics_do_not_grow_with_invented_organizations() {
    let mut server = Server::start(&[]);
    let http = client();
    for i in 0..2000 {
        let r = http
            .post(format!(
                "{}/v2/org-{i:05}-{}/zipfile",
                server.base,
                "x".repeat(200)
            ))
            .header("authorization", AUTH)
            .header("content-type", MULTIPART)
            .body(multipart("m.zip", b"not a zip"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
    }
    let metrics = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.len() < 256 * 1024,
        "/metrics is {} bytes after 2000 invented organizations",
        metrics.len()
    );
    server.assert_clean().await;
}

/// Slowloris: many connections dribble bytes (request heads and upload bodies) every 100 ms for
/// a few seconds; meanwhile the server keeps answering health quickly. Finally a slow upload that
/// completes is still answered correctly, and abandoned uploads leave no spool file.
#[tokio::test]
async fn slow_uploads_do_not_starve_the_server() {
    const SLOW_CONNECTIONS: usize = 48;
    const DRIBBLE: Duration = Duration::from_secs(4);
    let mut server = Server::start(&[]);
    let body = multipart("m.zip", b"this is not a zip, sent slowly");
    let mut tasks = Vec::new();
    for i in 0..SLOW_CONNECTIONS {
        let addr = server.addr.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
            // Half dribble the head, half send the head and dribble the body.
            let mut bytes = request_head(&addr, body.len()).into_bytes();
            let head_len = bytes.len();
            bytes.extend_from_slice(&body);
            let mut sent = if i % 2 == 0 { 0 } else { head_len };
            if sent > 0 {
                stream.write_all(&bytes[..sent]).await.unwrap();
            }
            let started = Instant::now();
            while started.elapsed() < DRIBBLE && sent < bytes.len() - 3 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if stream.write_all(&bytes[sent..sent + 3]).await.is_err() {
                    return false; // the server may hang up on a slow client; that is fine
                }
                sent += 3;
            }
            // Abandon the request half-way.
            drop(stream);
            true
        }));
    }
    // Health stays fast while the slow clients are connected.
    let started = Instant::now();
    let mut pings = 0;
    while started.elapsed() < DRIBBLE {
        server.ping().await.unwrap();
        pings += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        pings >= 10,
        "only {pings} health answers during the slow uploads"
    );
    for t in tasks {
        t.await.unwrap();
    }

    // A slow upload that finishes gets its answer.
    let mut stream = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    let mut bytes = request_head(&server.addr, body.len()).into_bytes();
    bytes.extend_from_slice(&body);
    for piece in bytes.chunks(bytes.len() / 20 + 1) {
        stream.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, answer) = read_response(&mut stream).await;
    assert_eq!(
        (status, answer["error"].as_str(), answer["message"].as_str()),
        (400, Some("OMPSUploadedFileError"), Some(NOT_A_ZIP)),
        "{answer}"
    );
    server.assert_clean().await;
}

/// Files left in a server's `TMPDIR`, but the lock of its own spool directory.
fn leftovers(tmp: &Path) -> Vec<String> {
    test_support::server::files_under(tmp)
        .into_iter()
        .filter(|f| !test_support::server::is_spool_lock(f))
        .collect()
}
