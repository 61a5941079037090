//! Word lists for the sentence segmenter: abbreviations that end in a period without ending
//! the sentence, and the words that, after such an abbreviation, still start a new sentence
//! (the Pragmatic Segmenter's idea: "Co. It closed" splits, "Co. at noon" does not).

/// Abbreviations (lower case, without the final period, sorted by bytes). Dotted forms like "e.g.", "U.S.A."
/// and single-letter initials are recognised by shape, not listed.
const ABBREVIATIONS: &[&str] = &[
    "adm", "al", "approx", "apr", "apt", "assn", "aug", "ave", "bldg", "blvd", "brig", "bros",
    "ca", "capt", "cf", "ch", "cmdr", "co", "col", "corp", "cpl", "dec", "dept", "dist", "dr",
    "ed", "eds", "esp", "est", "etc", "ex", "feb", "fig", "figs", "fri", "ft", "gen", "gov", "hon",
    "hr", "hrs", "inc", "jan", "jr", "jul", "jun", "lb", "lbs", "lt", "ltd", "maj", "mar",
    "messrs", "min", "misc", "mon", "mr", "mrs", "ms", "msgr", "mt", "no", "nos", "nov", "n°",
    "oct", "op", "pp", "prof", "pt", "rd", "ref", "rep", "reps", "rev", "sat", "sen", "sens",
    "sep", "sept", "sgt", "sr", "st", "sun", "supt", "surg", "thu", "tue", "univ", "vol", "vols",
    "vs", "wed",
];

/// Abbreviations that often end a sentence: any capitalised word after them starts one.
const SENTENCE_FINAL: &[&str] = &["etc"];

/// Words that start a sentence even right after an abbreviation.
const STARTERS: &[&str] = &[
    "A", "Also", "An", "And", "Being", "But", "Did", "Do", "Does", "For", "He", "Her", "Here",
    "His", "How", "However", "I", "If", "In", "It", "Its", "Let", "Millions", "More", "My", "Now",
    "Our", "She", "So", "That", "The", "Their", "Then", "There", "These", "They", "This", "Those",
    "We", "What", "When", "Where", "Which", "Who", "Why", "You", "Your",
];

/// `word`, ASCII-lower-cased (or, when it is not ASCII, lower-cased), is in `list` (sorted
/// by bytes, entries at most 8 bytes).
fn eq_lower(word: &str, list: &[&str]) -> bool {
    const MAX: usize = 8;
    if word.len() <= MAX {
        // Lower-cased on the stack and looked up by binary search: this runs at every period.
        let mut buf = [0u8; MAX];
        let lower = &mut buf[..word.len()];
        lower.copy_from_slice(word.as_bytes());
        lower.make_ascii_lowercase();
        if list.binary_search_by(|a| a.as_bytes().cmp(lower)).is_ok() {
            return true;
        }
    }
    !word.is_ascii() && list.contains(&word.to_lowercase().as_str())
}

/// `word` (the token before a period, without it) is an abbreviation.
pub(crate) fn is_abbreviation(word: &str) -> bool {
    let mut letters = word.chars().filter(|c| c.is_alphabetic());
    let first = letters.next();
    if first.is_some() && letters.next().is_none() && word.chars().count() == 1 {
        return true; // an initial: "E. Smith", "p. 55"
    }
    if word.contains('.') {
        // Dotted initials: "U.S", "e.g", "a.m", "U.S.A".
        return word.split('.').all(|part| {
            let mut cs = part.chars();
            cs.next().is_some_and(char::is_alphabetic) && cs.next().is_none()
        });
    }
    eq_lower(word, ABBREVIATIONS)
}

pub(crate) fn ends_sentences(word: &str) -> bool {
    eq_lower(word, SENTENCE_FINAL)
}

pub(crate) fn is_starter(word: &str) -> bool {
    STARTERS.contains(&word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_for_binary_search() {
        assert!(ABBREVIATIONS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_abbreviation("Dr") && is_abbreviation("N°") && is_abbreviation("U.S.A"));
        assert!(!is_abbreviation("build") && !is_abbreviation("Jane.Doe@example.com"));
    }

    #[test]
    fn lookup_fits_the_lists() {
        assert!(SENTENCE_FINAL.windows(2).all(|w| w[0] < w[1]));
        assert!(ABBREVIATIONS
            .iter()
            .chain(SENTENCE_FINAL)
            .all(|a| a.len() <= 8));
        assert!(is_abbreviation("MESSRS") && is_abbreviation("n°") && !is_abbreviation("dre"));
        assert!(ends_sentences("Etc") && !ends_sentences("etcetera"));
    }
}
