//! Fragmentation prevention: a file made of many short references into many xorbs is slow
//! to download, so short deduplicated runs are passed over (their chunks uploaded again)
//! while the recent terms of a file are short on average, as the specification advises and
//! xet-core does.

use std::collections::VecDeque;

/// How many of a file's latest terms the average is taken over.
const WINDOW: usize = 128;
/// The average run, in chunks, below which short runs stop being deduplicated.
const MIN_CHUNKS_PER_RANGE: f32 = 8.0;
/// Deduplication resumes below the full threshold once it has been allowed again.
const HYSTERESIS: f32 = 0.5;

/// The recent terms of one file and whether they are fragmented.
#[derive(Debug)]
pub(crate) struct DefragPrevention {
    recent: VecDeque<usize>,
    recent_chunks: usize,
    at_low_threshold: bool,
}

impl Default for DefragPrevention {
    fn default() -> Self {
        Self {
            recent: VecDeque::with_capacity(WINDOW + 1),
            recent_chunks: 0,
            at_low_threshold: true,
        }
    }
}

impl DefragPrevention {
    /// A new term of `chunks` chunks.
    pub(crate) fn add_range(&mut self, chunks: usize) {
        self.recent.push_back(chunks);
        self.recent_chunks += chunks;
        if self.recent.len() > WINDOW
            && let Some(oldest) = self.recent.pop_front()
        {
            self.recent_chunks -= oldest;
        }
    }

    /// The last term grew by `chunks` chunks.
    pub(crate) fn extend_last(&mut self, chunks: usize) {
        if let Some(last) = self.recent.back_mut() {
            *last += chunks;
            self.recent_chunks += chunks;
        }
    }

    /// Whether a deduplicated run of `chunks` chunks should become a term of its own.
    pub(crate) fn allow_dedupe(&mut self, chunks: usize) -> bool {
        if self.recent.len() < WINDOW {
            return true;
        }
        let average = self.recent_chunks as f32 / self.recent.len() as f32;
        let target = if self.at_low_threshold {
            MIN_CHUNKS_PER_RANGE * HYSTERESIS
        } else {
            MIN_CHUNKS_PER_RANGE
        };
        if average < target {
            if (chunks as f32) < average {
                self.at_low_threshold = false;
                return false;
            }
        } else {
            self.at_low_threshold = true;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_runs_are_refused_once_terms_are_short() {
        let mut defrag = DefragPrevention::default();
        for _ in 0..WINDOW {
            assert!(defrag.allow_dedupe(2));
            defrag.add_range(2);
        }
        assert!(
            !defrag.allow_dedupe(1),
            "fragmented: a run shorter than the average is uploaded again"
        );
        assert!(defrag.allow_dedupe(100), "a long run still helps");
    }

    #[test]
    fn long_terms_allow_everything() {
        let mut defrag = DefragPrevention::default();
        for _ in 0..WINDOW * 2 {
            defrag.add_range(1);
            defrag.extend_last(20);
        }
        assert!(defrag.allow_dedupe(1));
    }
}
