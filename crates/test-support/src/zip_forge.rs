//! Hand-built zip archives whose every field can lie: sizes, CRCs, methods, flags, Unix modes,
//! entry counts and central-directory offsets. The `zip` crate refuses to write such archives,
//! which is exactly why hostile-input tests need this.
//!
//! ```
//! use test_support::zip_forge::{build, entry};
//! let mut bomb = entry("zeros.yaml", &[0u8; 1024]);
//! bomb.deflate = true;
//! bomb.declared_size = Some(10); // the central directory lies about the size
//! let bytes = build(&[bomb, entry("ok.yaml", b"a: 1\n")]);
//! assert_eq!(&bytes[..4], b"PK\x03\x04");
//! ```

use std::io::Write as _;

/// One entry of a hand-built archive.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Raw file name bytes (need not be UTF-8 or safe).
    pub name: Vec<u8>,
    /// Uncompressed content.
    pub data: Vec<u8>,
    /// Store the content deflated (method 8) instead of stored (method 0).
    pub deflate: bool,
    /// General-purpose flags (bit 0: encrypted, bit 3: data descriptor, ...).
    pub flags: u16,
    /// Compression method to declare instead of the real one.
    pub method: Option<u16>,
    /// CRC-32 to declare instead of the real one.
    pub crc: Option<u32>,
    /// Uncompressed size to declare instead of the real one.
    pub declared_size: Option<u32>,
    /// Unix mode in the external attributes (`made by` Unix when set).
    pub unix_mode: Option<u32>,
    /// Point the central directory at the local header of an earlier entry.
    pub reuse_offset_of: Option<usize>,
}

/// A truthful stored entry.
pub fn entry(name: &str, data: &[u8]) -> Entry {
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

/// A truthful deflated entry.
pub fn deflated(name: &str, data: &[u8]) -> Entry {
    Entry {
        deflate: true,
        ..entry(name, data)
    }
}

/// CRC-32 of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(data);
    crc.sum()
}

/// Raw deflate of `data`.
pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).expect("in-memory write");
    enc.finish().expect("in-memory write")
}

/// How the end of the archive is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The classic 16-bit end record with the true entry count.
    Classic,
    /// Zip64 end record and locator (the classic record says 0xFFFF).
    Zip64,
    /// A classic end record claiming this many entries.
    Claim(u16),
}

/// An archive of `entries` with a classic end record.
pub fn build(entries: &[Entry]) -> Vec<u8> {
    build_with(entries, End::Classic)
}

/// Writes an archive by hand: local headers, central directory, end records.
#[allow(clippy::cast_possible_truncation)] // fields are 16/32-bit by format; tests stay small
pub fn build_with(entries: &[Entry], end: End) -> Vec<u8> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truthful_archives_read_back_with_the_zip_crate() {
        let bytes = build(&[entry("a.txt", b"alpha"), deflated("d/b.txt", &[b'b'; 5000])]);
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(z.len(), 2);
        let mut s = String::new();
        std::io::Read::read_to_string(&mut z.by_name("a.txt").unwrap(), &mut s).unwrap();
        assert_eq!(s, "alpha");
        let f = z.by_name("d/b.txt").unwrap();
        assert_eq!(f.compression(), zip::CompressionMethod::Deflated);
        assert_eq!(f.size(), 5000);
        assert!(f.compressed_size() < 5000);
    }

    #[test]
    fn lies_are_written_as_asked() {
        let mut e = entry("x", b"data");
        e.crc = Some(7);
        e.declared_size = Some(1_000_000);
        let bytes = build_with(&[e], End::Claim(9));
        // Local header: CRC at 14, uncompressed size at 22.
        assert_eq!(u32::from_le_bytes(bytes[14..18].try_into().unwrap()), 7);
        assert_eq!(
            u32::from_le_bytes(bytes[22..26].try_into().unwrap()),
            1_000_000
        );
        // End record: the claimed entry count.
        let end = bytes.len() - 22;
        assert_eq!(
            u16::from_le_bytes(bytes[end + 10..end + 12].try_into().unwrap()),
            9
        );
        let z64 = build_with(&[entry("y", b"")], End::Zip64);
        assert!(z64.windows(4).any(|w| w == 0x0606_4b50u32.to_le_bytes()));
    }
}
