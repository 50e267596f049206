//! Entry points for the fuzz targets in `fuzz/` (not part of the API): the crate-private
//! reduced-scale JPEG decoder, and the regression inputs the fuzzers found.

/// Our reduced-scale JPEG decoder at `scale`/8 (1, 2 or 4): `(width, height, channels, pixels,
/// exif)`, or `None` where it leaves the file to `jpeg-decoder`.
pub type Reduced<'a> = (u32, u32, u8, Vec<u8>, Option<&'a [u8]>);

/// [`Reduced`] of `bytes`; see `image::jpeg`.
pub fn jpeg_reduced(bytes: &[u8], scale: usize) -> Option<Reduced<'_>> {
    super::jpeg::decode(bytes, scale).map(|d| (d.width, d.height, d.channels, d.pixels, d.exif))
}

#[cfg(test)]
mod tests {
    /// The JPEG seeds of `fuzz/corpus/jpeg_oracle` (from `fuzz/make_seeds.py`) reach our decoder,
    /// so that the fuzzer compares it with `jpeg-decoder` from the first input on.
    #[test]
    fn jpeg_seeds_are_decoded_by_our_decoder() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/jpeg_oracle");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let data = std::fs::read(&path).unwrap();
            // CMYK is jpeg-decoder's; progressive frames are ours at 1/8 only.
            let scales: &[usize] = match name.as_str() {
                "cmyk.jpg" => &[],
                n if n.starts_with("progressive") => &[1],
                _ => &[1, 2, 4],
            };
            for &scale in scales {
                assert!(
                    super::jpeg_reduced(&data, scale).is_some(),
                    "{name} at {scale}/8"
                );
            }
            seen += 1;
        }
        assert!(seen >= 10, "{seen} seeds in {dir}");
    }
}
