//! Reading small delimited text files as published: UTF-8 (with or without BOM) or Windows-1252, with the
//! delimiter (`;`, `,` or tab) sniffed from the header line.

use super::ImportError;
use std::path::Path;

/// A decoded text file.
pub struct TextContent {
    pub text: String,
    /// `utf-8` or `windows-1252`.
    pub encoding: &'static str,
}

/// Decode bytes: strip a UTF-8 BOM; valid UTF-8 stays UTF-8, anything else is Windows-1252.
pub fn decode(bytes: &[u8]) -> TextContent {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => TextContent {
            text: s.to_string(),
            encoding: "utf-8",
        },
        Err(_) => {
            let (text, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
            TextContent {
                text: text.into_owned(),
                encoding: "windows-1252",
            }
        }
    }
}

/// Read and decode a text file, with an error naming it.
pub fn read_text(path: &Path) -> Result<TextContent, ImportError> {
    let bytes = std::fs::read(path).map_err(|source| ImportError::Io {
        file: path.display().to_string(),
        source,
    })?;
    Ok(decode(&bytes))
}

/// The most frequent of `;`, tab and `,` outside quotes on the first line (`;` on a tie, as Dutch Excel writes).
pub fn sniff_delimiter(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or("");
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for c in first.chars() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => counts[0] += 1,
            '\t' if !quoted => counts[1] += 1,
            ',' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let delims = [b';', b'\t', b','];
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    if counts[best] == 0 {
        b';'
    } else {
        delims[best]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_bom_and_cp1252() {
        assert_eq!(decode(b"\xEF\xBB\xBFa;b").text, "a;b");
        let c = decode(b"Caf\xe9");
        assert_eq!(c.text, "Café");
        assert_eq!(c.encoding, "windows-1252");
    }

    #[test]
    fn sniffs() {
        assert_eq!(sniff_delimiter("a;b;c\n"), b';');
        assert_eq!(sniff_delimiter("a,b,c\n"), b',');
        assert_eq!(sniff_delimiter("a\tb\tc\n"), b'\t');
        assert_eq!(sniff_delimiter("\"a,x\";b;c\n"), b';');
        assert_eq!(sniff_delimiter("abc\n"), b';');
    }
}
