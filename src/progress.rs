//! How far a completion has come, in the words a page shows: its phase, and how many pixels
//! the next step may draw so that each phase gets frames of its own.

use serde::Serialize;

/// What a completion is doing as of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "web", derive(tsify::Tsify))]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Drawing the hidden pixels (`done` of `total`).
    Drawing,
    /// One pixel is left, and the step that draws it also scores every candidate against the
    /// known pixels after the hole: a longer step, worth saying so before it runs.
    Scoring,
    /// A share of a pool is drawn and scored: its log-weights wait for the whole pool's choice.
    Choosing,
    /// Every pixel is drawn and, for a pool, the alternatives are chosen.
    Done,
}

impl Phase {
    /// The phase of a completion with `done` of `total` pixels drawn; `ranked`: its pool is
    /// scored against known pixels after the hole; `awaiting_choice`: its log-weights are out.
    pub fn of(done: usize, total: usize, ranked: bool, awaiting_choice: bool) -> Phase {
        if awaiting_choice {
            Phase::Choosing
        } else if done >= total {
            Phase::Done
        } else if ranked && total - done == 1 {
            Phase::Scoring
        } else {
            Phase::Drawing
        }
    }
}

/// The pixels a step asked for `requested` draws (at least one): a ranked pool's last pixel
/// gets a step of its own, so the frame before it can say [`Phase::Scoring`].
pub fn step_pixels(requested: usize, done: usize, total: usize, ranked: bool) -> usize {
    let left = total.saturating_sub(done);
    let requested = requested.max(1);
    if ranked && left > 1 {
        requested.min(left - 1)
    } else {
        requested
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ranked_pool_draws_its_last_pixel_in_a_step_of_its_own() {
        assert_eq!(step_pixels(usize::MAX, 0, 10, true), 9);
        assert_eq!(step_pixels(4, 0, 10, true), 4);
        assert_eq!(step_pixels(4, 8, 10, true), 1);
        assert_eq!(step_pixels(usize::MAX, 9, 10, true), usize::MAX);
        assert_eq!(step_pixels(usize::MAX, 0, 10, false), usize::MAX);
        assert_eq!(step_pixels(0, 0, 10, false), 1);
    }

    #[test]
    fn the_phase_follows_the_pixels_left() {
        assert_eq!(Phase::of(0, 10, true, false), Phase::Drawing);
        assert_eq!(Phase::of(9, 10, true, false), Phase::Scoring);
        assert_eq!(Phase::of(9, 10, false, false), Phase::Drawing);
        assert_eq!(Phase::of(10, 10, true, true), Phase::Choosing);
        assert_eq!(Phase::of(10, 10, true, false), Phase::Done);
    }
}
