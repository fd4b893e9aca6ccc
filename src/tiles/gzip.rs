//! gzip (RFC 1952) of encoded tiles, fast: one deflate state per thread, reset for every tile (a fresh
//! compressor allocates and clears ~300 KB), so compressing a small tile costs only the deflate itself.
//!
//! ```
//! use std::io::Read;
//!
//! let tile = b"\x1a\x08brandpunt";
//! let gz = brandpunt::tiles::gzip::gzip(tile).unwrap();
//! assert_eq!(&gz[..2], &[0x1f, 0x8b]);
//! let mut back = Vec::new();
//! flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut back).unwrap();
//! assert_eq!(back, tile);
//! ```

thread_local! {
    /// One deflate state per thread, reset for every tile.
    static DEFLATE: std::cell::RefCell<flate2::Compress> =
        std::cell::RefCell::new(flate2::Compress::new(flate2::Compression::fast(), false));
}

/// gzip (RFC 1952) of `data`: a fixed header, raw deflate from the thread's reused compressor, CRC-32 and size.
pub fn gzip(data: &[u8]) -> Result<Vec<u8>, flate2::CompressError> {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    DEFLATE.with(|cell| -> Result<(), flate2::CompressError> {
        let mut c = cell.borrow_mut();
        c.reset();
        loop {
            let consumed = c.total_in() as usize;
            out.reserve(256);
            let status =
                c.compress_vec(&data[consumed..], &mut out, flate2::FlushCompress::Finish)?;
            if status == flate2::Status::StreamEnd {
                return Ok(());
            }
        }
    })?;
    let mut crc = flate2::Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    #[test]
    fn gzip_round_trips_through_an_independent_decoder() {
        let big: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for data in [&b""[..], b"brandpunt", &big[..]] {
            // Twice on the same thread: the reused compressor must be reset between tiles.
            for _ in 0..2 {
                let gz = super::gzip(data).unwrap();
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(&gz[..])
                    .read_to_end(&mut out)
                    .unwrap();
                assert_eq!(out, data);
            }
        }
    }
}
