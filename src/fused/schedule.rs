//! Which kernel runs when: the cached sampler's bookkeeping ([`crate::cached`]) as a list of
//! GPU operations, free of any GPU so that it can be tested on its own.
//!
//! The CPU engine decides, before each pixel, which rows need their vertical stack and whether
//! the current row's horizontal caches must be rebuilt (after pixels known in every item were
//! skipped), and it scores complete rows as it reaches them. This is the same walk emitting
//! [`Op`]s instead of running tensor ops.

/// One kernel launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `vertical_row`: the vertical stack of complete image row `row` and the row terms of the
    /// row below; `None`: the row terms of row 0 (nothing above it).
    Vertical(Option<usize>),
    /// `horizontal_row` over `row` through the first `layers` layers; with `score`, through
    /// every layer and the head, adding the row's scored values' log p to the scores.
    Horizontal {
        row: usize,
        layers: usize,
        score: bool,
    },
    /// `value`: draws `channel` of pixel (row, col).
    Value {
        row: usize,
        col: usize,
        channel: usize,
    },
}

/// The walk over the pixels to generate.
#[derive(Debug, Clone)]
pub struct Schedule {
    width: usize,
    channels: usize,
    layers: usize,
    /// Pixel positions to generate, in raster order.
    todo: Vec<usize>,
    done: usize,
    started: bool,
    /// Rows 0..vertical_rows have their vertical stack done.
    vertical_rows: usize,
    /// The horizontal caches hold final values for every column before `.1` of row `.0`.
    horizontal_at: Option<(usize, usize)>,
    /// Rows with scored positions, ascending; `score_rows[next_score..]` are still to score.
    score_rows: Vec<usize>,
    next_score: usize,
}

impl Schedule {
    /// `todo`: the pixel positions to generate in raster order; `score_rows`: the rows with
    /// scored positions (empty when nothing is scored).
    pub fn new(
        width: usize,
        channels: usize,
        layers: usize,
        todo: Vec<usize>,
        score_rows: Vec<usize>,
    ) -> Self {
        Self {
            width,
            channels,
            layers,
            todo,
            done: 0,
            started: false,
            vertical_rows: 0,
            horizontal_at: None,
            score_rows,
            next_score: 0,
        }
    }

    /// (pixels generated, pixels to generate).
    pub fn progress(&self) -> (usize, usize) {
        (self.done, self.todo.len())
    }

    pub fn is_done(&self) -> bool {
        self.done >= self.todo.len() && self.next_score >= self.score_rows.len()
    }

    /// The operations of the next pixel (with, after the last one, the rows left to score);
    /// empty when everything is done.
    pub fn next_pixel(&mut self) -> Vec<Op> {
        let mut ops = Vec::new();
        if !self.started {
            self.started = true;
            ops.push(Op::Vertical(None));
        }
        let Some(&p) = self.todo.get(self.done) else {
            self.score_rows_before(usize::MAX, &mut ops);
            return ops;
        };
        let (row, col) = (p / self.width, p % self.width);
        self.score_rows_before(row, &mut ops);
        self.vertical_up_to(row, &mut ops);
        if col > 0 && self.horizontal_at != Some((row, col)) {
            ops.push(Op::Horizontal {
                row,
                layers: self.layers - 1,
                score: false,
            });
        }
        ops.extend((0..self.channels).map(|channel| Op::Value { row, col, channel }));
        self.horizontal_at = Some((row, col + 1));
        self.done += 1;
        if self.done == self.todo.len() {
            self.score_rows_before(usize::MAX, &mut ops);
        }
        ops
    }

    fn vertical_up_to(&mut self, row: usize, ops: &mut Vec<Op>) {
        ops.extend((self.vertical_rows..row).map(|r| Op::Vertical(Some(r))));
        self.vertical_rows = self.vertical_rows.max(row);
    }

    fn score_rows_before(&mut self, end: usize, ops: &mut Vec<Op>) {
        while let Some(&row) = self.score_rows.get(self.next_score) {
            if row >= end {
                return;
            }
            self.vertical_up_to(row, ops);
            ops.push(Op::Horizontal {
                row,
                layers: self.layers,
                score: true,
            });
            self.horizontal_at = None;
            self.next_score += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_canvas_runs_every_row_once_and_never_rebuilds_a_row() {
        let mut s = Schedule::new(2, 1, 3, (0..4).collect(), vec![]);
        let ops: Vec<Op> = std::iter::from_fn(|| Some(s.next_pixel()))
            .take_while(|ops| !ops.is_empty())
            .flatten()
            .collect();
        let value = |row, col| Op::Value {
            row,
            col,
            channel: 0,
        };
        assert_eq!(
            ops,
            [
                Op::Vertical(None),
                value(0, 0),
                value(0, 1),
                Op::Vertical(Some(0)),
                value(1, 0),
                value(1, 1),
            ]
        );
        assert!(s.is_done());
    }

    #[test]
    fn skipped_pixels_rebuild_the_row_and_scored_rows_follow_the_hole() {
        // Width 3: hidden (0,0) and (0,2); rows 0 and 1 scored.
        let mut s = Schedule::new(3, 2, 4, vec![0, 2], vec![0, 1]);
        let first = s.next_pixel();
        assert_eq!(first.len(), 3, "{first:?}");
        let second = s.next_pixel();
        let horizontal = |row, layers, score| Op::Horizontal { row, layers, score };
        assert_eq!(second[0], horizontal(0, 3, false));
        assert_eq!(second.len(), 1 + 2 + 3, "{second:?}");
        assert_eq!(
            &second[3..],
            [
                horizontal(0, 4, true),
                Op::Vertical(Some(0)),
                horizontal(1, 4, true)
            ]
        );
        assert!(s.is_done());
        assert!(s.next_pixel().is_empty());
    }
}
