//! How an SMS is encoded and how many segments (credits) it costs.
//!
//! The tables are 3GPP TS 23.038: the GSM 7-bit default alphabet and its
//! extension table (§6.2.1), and the Turkish national language locking
//! shift (Annex A.3.1) and single shift (Annex A.2.1) tables, as given in
//! `data/sms_gsm7_turkish.md` (copied from `shared/data/`, sources listed
//! there). The cheapest encoding that represents the text is chosen:
//! fewest segments, and among equals the most widely supported, in the
//! order default GSM 7-bit, Turkish locking shift, Turkish single shift,
//! UCS-2. (Locking and single shift together are never cheaper than one of
//! them for Turkish, TS 23.038 Annex C and Android's encoder agree, so it
//! is not offered.) Segments are counted by filling parts greedily, never
//! splitting an escape sequence or a UTF-16 surrogate pair, which is what a
//! real splitter does; the `ceil(units / per_part)` formula undercounts in
//! those edge cases.

/// The default alphabet, by code (0x1B, the escape, is never matched).
const DEFAULT: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1b}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The eight cells where the Turkish locking shift table differs from the default.
const TURKISH_LOCKING: [(usize, char); 8] = [
    (0x04, '€'),
    (0x07, 'ı'),
    (0x0B, 'Ğ'),
    (0x0C, 'ğ'),
    (0x1C, 'Ş'),
    (0x1D, 'ş'),
    (0x40, 'İ'),
    (0x60, 'ç'),
];

/// The default extension table, reached with ESC (2 septets each).
const EXTENSION: [char; 10] = ['\u{0c}', '^', '{', '}', '\\', '[', '~', ']', '|', '€'];

/// The Turkish single shift table: the extension table plus seven letters.
const TURKISH_SINGLE_EXTRA: [char; 7] = ['Ğ', 'İ', 'Ş', 'ç', 'ğ', 'ı', 'ş'];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// GSM 7-bit default alphabet: 160 per single SMS, 153 per part.
    Gsm7,
    /// GSM 7-bit with the Turkish locking shift table: 155 / 149.
    Gsm7TurkishLocking,
    /// GSM 7-bit with the Turkish single shift table: 155 / 149.
    Gsm7TurkishSingle,
    /// UCS-2 (UTF-16 code units): 70 / 67.
    Ucs2,
}

impl Encoding {
    /// (units in a single SMS, units per part of a concatenated one).
    pub fn limits(self) -> (usize, usize) {
        match self {
            Encoding::Gsm7 => (160, 153),
            Encoding::Gsm7TurkishLocking | Encoding::Gsm7TurkishSingle => (155, 149),
            Encoding::Ucs2 => (70, 67),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm7",
            Encoding::Gsm7TurkishLocking => "gsm7-turkish-locking",
            Encoding::Gsm7TurkishSingle => "gsm7-turkish-single",
            Encoding::Ucs2 => "ucs2",
        }
    }

    /// What one character costs in this encoding, or None if it cannot be sent.
    fn cost(self, c: char) -> Option<usize> {
        let in_default = || c != '\u{1b}' && DEFAULT.contains(&c);
        let in_locking = || {
            c != '\u{1b}'
                && (TURKISH_LOCKING.iter().any(|&(_, t)| t == c)
                    || (DEFAULT.contains(&c)
                        && !TURKISH_LOCKING.iter().any(|&(i, _)| DEFAULT[i] == c)))
        };
        let in_extension = || EXTENSION.contains(&c);
        match self {
            Encoding::Gsm7 => {
                if in_default() {
                    Some(1)
                } else if in_extension() {
                    Some(2)
                } else {
                    None
                }
            }
            Encoding::Gsm7TurkishLocking => {
                if in_locking() {
                    Some(1)
                } else if in_extension() {
                    Some(2)
                } else {
                    None
                }
            }
            Encoding::Gsm7TurkishSingle => {
                if in_default() {
                    Some(1)
                } else if in_extension() || TURKISH_SINGLE_EXTRA.contains(&c) {
                    Some(2)
                } else {
                    None
                }
            }
            Encoding::Ucs2 => Some(c.len_utf16()),
        }
    }
}

/// What a text costs to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    pub encoding: Encoding,
    /// Septets (GSM 7-bit) or UTF-16 code units (UCS-2).
    pub units: usize,
    pub segments: usize,
}

/// Segments of a text whose characters cost `costs`, in an encoding with `limits`.
fn segments(costs: &[usize], (single, per_part): (usize, usize)) -> usize {
    let total: usize = costs.iter().sum();
    if total <= single {
        return 1;
    }
    let mut parts = 1;
    let mut fill = 0;
    for &c in costs {
        if fill + c > per_part {
            parts += 1;
            fill = 0;
        }
        fill += c;
    }
    parts
}

/// The cheapest way to send `text`.
pub fn cost(text: &str) -> Cost {
    [
        Encoding::Gsm7,
        Encoding::Gsm7TurkishLocking,
        Encoding::Gsm7TurkishSingle,
        Encoding::Ucs2,
    ]
    .into_iter()
    .filter_map(|e| {
        let costs: Option<Vec<usize>> = text.chars().map(|c| e.cost(c)).collect();
        costs.map(|costs| Cost {
            encoding: e,
            units: costs.iter().sum(),
            segments: segments(&costs, e.limits()),
        })
    })
    // Fewest segments; among equals the first (most widely supported).
    .min_by_key(|c| c.segments)
    .expect("UCS-2 represents every text")
}

#[cfg(test)]
mod tests {
    use super::Encoding::*;
    use super::*;

    fn check(text: &str, encoding: Encoding, units: usize, segments: usize) {
        assert_eq!(
            cost(text),
            Cost {
                encoding,
                units,
                segments
            },
            "{text:?}"
        );
    }

    #[test]
    fn the_tables_have_their_sizes() {
        let mut seen = std::collections::HashSet::new();
        assert!(
            DEFAULT.iter().all(|c| seen.insert(*c)),
            "128 distinct characters"
        );
        assert_eq!(DEFAULT[0x09], 'Ç');
        assert_eq!(DEFAULT[0x1B], '\u{1b}');
        for (i, _) in TURKISH_LOCKING {
            assert!(i < 128);
        }
    }

    #[test]
    fn plain_text_is_gsm7() {
        check("Merhaba", Gsm7, 7, 1);
        // Ö ö Ü ü Ç are in the default alphabet.
        check("Ödül Çöp Ürün", Gsm7, 13, 1);
        check(&"a".repeat(160), Gsm7, 160, 1);
        check(&"a".repeat(161), Gsm7, 161, 2); // 153 + 8
        check(&"a".repeat(306), Gsm7, 306, 2);
        check(&"a".repeat(307), Gsm7, 307, 3);
    }

    #[test]
    fn turkish_letters_use_the_locking_shift() {
        // ş and ı: one septet each with the locking table.
        check("Başvurunuz alındı", Gsm7TurkishLocking, 17, 1);
        check("İstanbul Ğ ğ Ş ş ç ı", Gsm7TurkishLocking, 20, 1);
        let one = format!("ş{}", "a".repeat(154));
        check(&one, Gsm7TurkishLocking, 155, 1);
        let two = format!("ş{}", "a".repeat(155));
        check(&two, Gsm7TurkishLocking, 156, 2); // 149 + 7
        let three = format!("ğ{}", "a".repeat(298));
        check(&three, Gsm7TurkishLocking, 299, 3); // Verimor: 299-447 → 3
    }

    #[test]
    fn euro_costs_two_in_default_and_one_with_locking() {
        check("€", Gsm7, 2, 1);
        // 80 € = 160 septets: one SMS in default, which wins the tie.
        check(&"€".repeat(80), Gsm7, 160, 1);
        // 81 €: 162 septets (2 SMS) in default, 81 with the locking table (1 SMS).
        check(&"€".repeat(81), Gsm7TurkishLocking, 81, 1);
    }

    #[test]
    fn a_displaced_character_needs_the_single_shift() {
        // è is replaced by € in the locking table: ğ then costs 2 with the single shift.
        check("ğè", Gsm7TurkishSingle, 3, 1);
    }

    #[test]
    fn circumflex_emoji_and_lira_need_ucs2() {
        check("Hâkim", Ucs2, 5, 1);
        // An emoji outside the BMP is two UTF-16 code units.
        check("Teşekkürler 🙏", Ucs2, 14, 1);
        check("100 ₺", Ucs2, 5, 1);
        check(&"â".repeat(70), Ucs2, 70, 1);
        check(&"â".repeat(71), Ucs2, 71, 2); // 67 + 4
    }

    #[test]
    fn parts_never_split_an_escape_or_a_surrogate_pair() {
        // 152 + € (2) + 152 = 306 septets, which the formula fits in 2 parts
        // of 153; but the escape cannot straddle them: 152 | 2 + 151 | 1.
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        check(&text, Gsm7, 306, 3);
        // 66 + 🙏 (2) + 66 = 134 code units, 2 parts by the formula; the pair moves: 3.
        let text = format!("{}🙏{}", "â".repeat(66), "â".repeat(66));
        check(&text, Ucs2, 134, 3);
    }

    proptest::proptest! {
        /// Whatever the text: at least one segment, never dearer than UCS-2,
        /// and a longer text never costs fewer segments in one encoding.
        #[test]
        fn the_choice_is_never_worse_than_ucs2(text in "\\PC{0,400}", extra in "\\PC{1,3}") {
            let c = cost(&text);
            let ucs2: Vec<usize> = text.chars().map(char::len_utf16).collect();
            proptest::prop_assert!(c.segments >= 1);
            proptest::prop_assert!(c.segments <= segments(&ucs2, Ucs2.limits()));
            if c.encoding == Ucs2 {
                proptest::prop_assert_eq!(c.units, text.encode_utf16().count());
            }
            let longer = format!("{text}{extra}");
            let costs: Option<Vec<usize>> = longer.chars().map(|ch| c.encoding.cost(ch)).collect();
            if let Some(costs) = costs {
                proptest::prop_assert!(segments(&costs, c.encoding.limits()) >= c.segments);
            }
        }
    }
}
