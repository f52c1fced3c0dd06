//! Text encodings of project files that are read as text and may be rewritten.
//!
//! Editors on Windows save `requirements.txt` as UTF-16 with a byte-order mark (PowerShell's
//! `pip freeze > requirements.txt` does). Such a file is read by its BOM and written back in
//! the same encoding, so pip keeps reading it; every other file is UTF-8, kept byte for byte
//! (a UTF-8 BOM stays part of the text).

/// How a file's bytes encode its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    /// UTF-16 little-endian with a BOM (`FF FE`).
    Utf16Le,
    /// UTF-16 big-endian with a BOM (`FE FF`).
    Utf16Be,
}

impl TextEncoding {
    /// The text of `bytes` and its encoding; `None` when it is neither valid UTF-8 nor
    /// BOM-marked UTF-16. The UTF-16 BOM is not part of the text.
    pub fn decode(bytes: &[u8]) -> Option<(String, TextEncoding)> {
        let utf16 = |rest: &[u8], from: fn([u8; 2]) -> u16| -> Option<String> {
            if !rest.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = rest
                .chunks_exact(2)
                .map(|pair| from([pair[0], pair[1]]))
                .collect();
            String::from_utf16(&units).ok()
        };
        match bytes {
            [0xFF, 0xFE, rest @ ..] => {
                utf16(rest, u16::from_le_bytes).map(|t| (t, TextEncoding::Utf16Le))
            }
            [0xFE, 0xFF, rest @ ..] => {
                utf16(rest, u16::from_be_bytes).map(|t| (t, TextEncoding::Utf16Be))
            }
            _ => std::str::from_utf8(bytes)
                .ok()
                .map(|t| (t.to_owned(), TextEncoding::Utf8)),
        }
    }

    /// `text` as bytes of this encoding (with the BOM for UTF-16).
    pub fn encode(self, text: &str) -> Vec<u8> {
        match self {
            TextEncoding::Utf8 => text.as_bytes().to_vec(),
            TextEncoding::Utf16Le => [0xFF, 0xFE]
                .into_iter()
                .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
                .collect(),
            TextEncoding::Utf16Be => [0xFE, 0xFF]
                .into_iter()
                .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_round_trips_with_its_bom_and_utf8_is_kept_as_is() {
        let text = "Flask==1.0.2\r\nboto3==1.9.0\r\n";
        for encoding in [TextEncoding::Utf16Le, TextEncoding::Utf16Be] {
            let bytes = encoding.encode(text);
            assert_eq!(bytes.len(), 2 + 2 * text.len());
            assert_eq!(
                TextEncoding::decode(&bytes),
                Some((text.to_owned(), encoding))
            );
        }
        assert_eq!(
            &TextEncoding::Utf16Le.encode("A")[..],
            &[0xFF, 0xFE, b'A', 0]
        );
        let bom8 = "\u{feff}x\n";
        assert_eq!(
            TextEncoding::decode(bom8.as_bytes()),
            Some((bom8.to_owned(), TextEncoding::Utf8))
        );
        // Odd length, lone surrogates and invalid UTF-8 are not text.
        assert_eq!(TextEncoding::decode(&[0xFF, 0xFE, b'A']), None);
        assert_eq!(TextEncoding::decode(&[0xFF, 0xFE, 0x00, 0xD8]), None);
        assert_eq!(TextEncoding::decode(&[0xC3, 0x28]), None);
    }
}
