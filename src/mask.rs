//! Causal masks for the horizontal stack.
//!
//! Feature maps are split into C contiguous groups, one per image channel; group g may only
//! carry information about channels < g (mask A) or ≤ g (mask B) of the *current* pixel.
//! Pixels to the left are always visible, so only the kernel tap on the current pixel is masked.

/// Which colour group a feature map belongs to, for `count` maps split over `channels` groups.
pub fn group_of(index: usize, count: usize, channels: usize) -> usize {
    index * channels / count
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskKind {
    /// The current pixel's channel g sees only channels < g (first layer).
    A,
    /// The current pixel's channel g sees channels ≤ g (all later layers).
    B,
}

/// Mask of shape [out, in, 1, kw] (row-major) whose last column is the current pixel.
/// `out_group` / `in_group` give the colour group of each output / input map.
pub fn horizontal_mask(
    out_groups: &[usize],
    in_groups: &[usize],
    kernel_width: usize,
    kind: MaskKind,
) -> Vec<f32> {
    let mut mask = vec![1.0; out_groups.len() * in_groups.len() * kernel_width];
    for (o, &go) in out_groups.iter().enumerate() {
        for (i, &gi) in in_groups.iter().enumerate() {
            let visible = match kind {
                MaskKind::A => gi < go,
                MaskKind::B => gi <= go,
            };
            if !visible {
                mask[(o * in_groups.len() + i) * kernel_width + kernel_width - 1] = 0.0;
            }
        }
    }
    mask
}

/// Groups of `count` plain feature maps.
pub fn plain_groups(count: usize, channels: usize) -> Vec<usize> {
    (0..count).map(|i| group_of(i, count, channels)).collect()
}

/// Groups of the 2·n gate pre-activations laid out as [tanh half | sigmoid half]: map j and
/// map j + n are multiplied together, so they must share a group.
pub fn gate_groups(hidden: usize, channels: usize) -> Vec<usize> {
    (0..2 * hidden)
        .map(|j| group_of(j % hidden, hidden, channels))
        .collect()
}

/// Groups of the output logits laid out as [channel][level].
pub fn logit_groups(channels: usize, levels: usize) -> Vec<usize> {
    (0..channels * levels).map(|j| j / levels).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_a_hides_own_channel_and_later_ones() {
        let m = horizontal_mask(&[0, 1, 2], &[0, 1, 2], 2, MaskKind::A);
        // Column 0 (pixel to the left) is fully visible.
        assert!(m.iter().step_by(2).all(|&v| v == 1.0));
        let current: Vec<f32> = m.iter().skip(1).step_by(2).copied().collect();
        assert_eq!(current, vec![0., 0., 0., 1., 0., 0., 1., 1., 0.]);
    }

    #[test]
    fn mask_b_shows_own_channel() {
        let m = horizontal_mask(&[0, 1], &[0, 1], 1, MaskKind::B);
        assert_eq!(m, vec![1., 0., 1., 1.]);
    }

    #[test]
    fn gate_halves_share_groups() {
        let g = gate_groups(6, 3);
        assert_eq!(g, vec![0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2]);
    }
}
