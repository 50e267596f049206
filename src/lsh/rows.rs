//! The row files of the staged engine's on-disk partitions: each a run of 12-byte little-endian
//! records, a `u64` band key then a `u32` document; grouped by partition for writing, and read
//! back side by side into one vector.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::{Error, Result};

/// Bytes of one record.
pub const ROW_BYTES: usize = 12;

/// Records read by one job: files are cut into pieces of this many, so that one large file is
/// read by every thread, and each job's buffer stays small (12 MiB).
const PIECE_ROWS: usize = 1 << 20;

/// A piece of a file to read: the file, its first record, and where its records go.
type Piece<'a> = (&'a Path, usize, &'a mut [(u64, u32)]);

/// The records of documents `first..` with keys `keys` (`m` per document, row-major), each in
/// the partition `key % partitions`: one buffer of records, partition after partition, and the
/// `partitions + 1` bounds (in records) of each partition's run. Inside a partition the records
/// keep document order, then key order; documents marked in `skip` have none.
pub fn partition_rows(
    keys: &[u64],
    m: usize,
    skip: &[bool],
    first: u32,
    partitions: usize,
) -> Result<(Vec<u8>, Vec<u64>)> {
    if partitions == 0 {
        return Err(Error::param("partitions", "must be at least 1"));
    }
    if keys.len() != skip.len() * m {
        return Err(Error::param("skip", "must have one entry per row of keys"));
    }
    if u32::try_from(skip.len())
        .ok()
        .and_then(|n| first.checked_add(n))
        .is_none()
    {
        return Err(Error::param("first", "documents beyond 2^32 - 1"));
    }
    let part = |k: u64| (k % partitions as u64) as usize;
    let live = || {
        keys.chunks_exact(m.max(1))
            .zip(skip)
            .enumerate()
            .filter(|(_, (_, &s))| !s)
            .flat_map(|(d, (ks, _))| ks.iter().map(move |&k| (k, first + d as u32)))
    };
    let mut bounds = vec![0u64; partitions + 1];
    for (k, _) in live() {
        bounds[part(k) + 1] += 1;
    }
    for p in 0..partitions {
        bounds[p + 1] += bounds[p];
    }
    let total = bounds[partitions] as usize;
    let mut out = vec![0u8; total * ROW_BYTES];
    let mut at: Vec<usize> = bounds[..partitions].iter().map(|&b| b as usize).collect();
    for (k, d) in live() {
        let slot = &mut at[part(k)];
        let rec = &mut out[*slot * ROW_BYTES..(*slot + 1) * ROW_BYTES];
        rec[..8].copy_from_slice(&k.to_le_bytes());
        rec[8..].copy_from_slice(&d.to_le_bytes());
        *slot += 1;
    }
    Ok((out, bounds))
}

/// The `(key, doc)` records of `paths`, in the order of the files and of the records in each.
/// Pieces of the files are read and decoded in parallel into fixed positions of the output, so
/// the result does not depend on the thread count. A file whose size is not a whole number of
/// records, or that cannot be read, is an error naming it.
pub fn read_rows(paths: &[PathBuf]) -> Result<Vec<(u64, u32)>> {
    let mut counts = Vec::with_capacity(paths.len());
    for path in paths {
        let len = std::fs::metadata(path)
            .map_err(|e| io_error(path, &e))?
            .len();
        if len % ROW_BYTES as u64 != 0 {
            return Err(Error::Input(format!(
                "{}: {len} bytes is not a whole number of {ROW_BYTES}-byte rows",
                path.display()
            )));
        }
        counts.push(usize::try_from(len / ROW_BYTES as u64).map_err(|_| {
            Error::Input(format!("{}: too large for this machine", path.display()))
        })?);
    }
    let total: usize = counts.iter().sum();
    let mut out = vec![(0u64, 0u32); total];
    let mut pieces: Vec<Piece<'_>> = Vec::new();
    let mut rest: &mut [(u64, u32)] = &mut out;
    for (path, &n) in paths.iter().zip(&counts) {
        let mut start = 0;
        while start < n {
            let len = PIECE_ROWS.min(n - start);
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(len);
            pieces.push((path, start, head));
            rest = tail;
            start += len;
        }
    }
    crate::parallel::install(total, || {
        pieces
            .into_par_iter()
            .try_for_each(|(path, first, dest)| read_piece(path, first, dest))
    })?;
    Ok(out)
}

fn read_piece(path: &Path, first: usize, dest: &mut [(u64, u32)]) -> Result<()> {
    let mut bytes = vec![0u8; dest.len() * ROW_BYTES];
    let mut file = File::open(path).map_err(|e| io_error(path, &e))?;
    file.seek(SeekFrom::Start((first * ROW_BYTES) as u64))
        .and_then(|_| file.read_exact(&mut bytes))
        .map_err(|e| io_error(path, &e))?;
    for (slot, rec) in dest.iter_mut().zip(bytes.chunks_exact(ROW_BYTES)) {
        let key = u64::from_le_bytes(rec[..8].try_into().expect("8 bytes"));
        let doc = u32::from_le_bytes(rec[8..].try_into().expect("4 bytes"));
        *slot = (key, doc);
    }
    Ok(())
}

fn io_error(path: &Path, e: &std::io::Error) -> Error {
    Error::Input(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, rows: &[(u64, u32)]) -> PathBuf {
        let path = dir.join(name);
        let bytes: Vec<u8> = rows
            .iter()
            .flat_map(|&(k, d)| k.to_le_bytes().into_iter().chain(d.to_le_bytes()))
            .collect();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mmdedup-rows-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn files_are_read_in_order_across_pieces() {
        let dir = scratch("order");
        // One file longer than a piece, so that it is read in two jobs, then a short one and an
        // empty one.
        let big: Vec<(u64, u32)> = (0..PIECE_ROWS as u64 + 5)
            .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15), i as u32))
            .collect();
        let small = [(u64::MAX, u32::MAX), (1, 2)];
        let paths = [
            write(&dir, "a.rows", &big),
            write(&dir, "b.rows", &small),
            write(&dir, "c.rows", &[]),
        ];
        let got = read_rows(&paths).unwrap();
        let want: Vec<(u64, u32)> = big.iter().chain(&small).copied().collect();
        assert_eq!(got, want);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn partition_rows_are_grouped_by_partition_in_document_order() {
        // Three documents of two keys; the second is skipped.
        let keys = [7, 4, 9, 10, 5, 6];
        let (bytes, bounds) = partition_rows(&keys, 2, &[false, true, false], 100, 3).unwrap();
        let recs: Vec<(u64, u32)> = bytes
            .chunks_exact(ROW_BYTES)
            .map(|r| {
                let k = u64::from_le_bytes(r[..8].try_into().unwrap());
                (k, u32::from_le_bytes(r[8..].try_into().unwrap()))
            })
            .collect();
        // Partition 0: 6 (doc 102); 1: 7, 4 (doc 100); 2: 5 (doc 102).
        assert_eq!(recs, [(6, 102), (7, 100), (4, 100), (5, 102)]);
        assert_eq!(bounds, [0, 1, 3, 4]);
        assert!(partition_rows(&keys, 2, &[false], 0, 1).is_err());
        assert!(partition_rows(&keys, 2, &[false; 3], 0, 0).is_err());
        assert!(partition_rows(&keys, 2, &[false; 3], u32::MAX - 1, 1).is_err());
    }

    #[test]
    fn a_torn_or_missing_file_is_an_error_naming_it() {
        let dir = scratch("torn");
        let path = dir.join("torn.rows");
        std::fs::write(&path, [0u8; 13]).unwrap();
        let e = read_rows(&[path]).unwrap_err().to_string();
        assert!(e.contains("torn.rows") && e.contains("13 bytes"), "{e}");
        let e = read_rows(&[dir.join("gone.rows")]).unwrap_err().to_string();
        assert!(e.contains("gone.rows"), "{e}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
