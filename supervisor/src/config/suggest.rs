//! Closest-match suggestions for misspelled keys, values and node names.

/// Returns the Levenshtein distance between `a` and `b`: the fewest single-character
/// insertions, deletions and substitutions that turn one into the other.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];

    for (i, a_char) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, b_char) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a_char != *b_char);
            let deletion = previous[j + 1] + 1;
            let insertion = current[j] + 1;
            current[j + 1] = substitution.min(deletion).min(insertion);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// Returns the candidate nearest to `word` with its distance; the first one wins a tie.
pub(crate) fn nearest<'a, I>(word: &str, candidates: I) -> Option<(&'a str, usize)>
where
    I: IntoIterator<Item = &'a str>,
{
    candidates
        .into_iter()
        .map(|candidate| (candidate, edit_distance(word, candidate)))
        .min_by_key(|&(_, distance)| distance)
}

/// Returns the candidate that `word` is most likely a misspelling of, if any is close.
///
/// Close means at most a third of the word's characters differ (at least one may), so
/// `active_lo` suggests `active_low` while `shunt_ohms` suggests nothing among `kind` and
/// `limit`.
pub(crate) fn closest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let allowed = (word.chars().count() / 3).max(1);
    nearest(word, candidates)
        .filter(|&(_, distance)| distance <= allowed)
        .map(|(candidate, _)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_single_edits() {
        assert_eq!(edit_distance("active_lo", "active_low"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

    #[test]
    fn closest_suggests_near_key() {
        let keys = ["line", "active_low"];
        assert_eq!(closest("active_lo", keys), Some("active_low"));
    }

    #[test]
    fn closest_ignores_distant_keys() {
        assert_eq!(closest("shunt_ohms", ["kind", "limit", "voltage"]), None);
    }
}
