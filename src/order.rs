//! Generation orders: the eight symmetries of the square (flips and transposes).
//!
//! The network itself always generates in raster order. A model trained with orders sees each
//! image through one of these transforms (and a learned per-order bias in every gate tells it
//! which), so generating the transformed image in raster order generates the original in
//! another order: bottom to top, right to left, column by column. A completion picks the order
//! that puts the fewest known pixels after the first hidden one, so the hole is generated from
//! (almost) everything known around it.

use burn::tensor::Tensor;
use burn::tensor::kind::Basic;

/// Number of generation orders a square image has.
pub const ORDERS: usize = 8;

/// One of the [`ORDERS`] orders. Bit 2: transpose; bit 1: flip the rows; bit 0: flip the
/// columns, applied in that order to go from the image to the order's frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Order(u8);

impl Order {
    /// Raster order: top to bottom, each row left to right.
    pub const IDENTITY: Self = Self(0);

    /// The order with this index (0..8), if there is one.
    pub fn new(index: usize) -> Option<Self> {
        (index < ORDERS).then_some(Self(index as u8))
    }

    /// The first `count` orders (at most all eight).
    pub fn first(count: usize) -> impl Iterator<Item = Self> {
        (0..count.min(ORDERS) as u8).map(Self)
    }

    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    fn transposes(self) -> bool {
        self.0 & 4 != 0
    }

    fn flips_rows(self) -> bool {
        self.0 & 2 != 0
    }

    fn flips_columns(self) -> bool {
        self.0 & 1 != 0
    }

    /// How the order walks the original image, as a person would say it.
    pub fn name(self) -> &'static str {
        [
            "top to bottom",
            "top to bottom, right to left",
            "bottom to top",
            "bottom to top, right to left",
            "left to right",
            "left to right, bottom to top",
            "right to left",
            "right to left, bottom to top",
        ][self.index()]
    }

    /// Height and width of an image of `height`×`width` as the order's frame sees it.
    pub fn frame_size(self, height: usize, width: usize) -> (usize, usize) {
        if self.transposes() {
            (width, height)
        } else {
            (height, width)
        }
    }

    /// The pixel (row, column) of the original `height`×`width` image shown at `frame`
    /// (row, column) of the order's frame.
    pub fn source(self, frame: (usize, usize), height: usize, width: usize) -> (usize, usize) {
        let (fh, fw) = self.frame_size(height, width);
        let (mut r, mut c) = frame;
        if self.flips_columns() {
            c = fw - 1 - c;
        }
        if self.flips_rows() {
            r = fh - 1 - r;
        }
        if self.transposes() { (c, r) } else { (r, c) }
    }

    /// For each position of the order's frame (row-major), the row-major position of the
    /// `height`×`width` original it shows.
    fn sources(self, height: usize, width: usize) -> Vec<usize> {
        let (fh, fw) = self.frame_size(height, width);
        (0..fh * fw)
            .map(|f| {
                let (r, c) = self.source((f / fw, f % fw), height, width);
                r * width + c
            })
            .collect()
    }

    /// The row-major positions of the hidden pixels of a `height`×`width` mask (true = known)
    /// in the order this order generates them.
    pub fn hidden_in_order(self, known: &[bool], height: usize, width: usize) -> Vec<usize> {
        self.sources(height, width)
            .into_iter()
            .filter(|&s| !known[s])
            .collect()
    }

    /// Planar images ([items, planes, H, W] row-major, any element; every `height`×`width`
    /// plane is moved alike) seen in the order's frame.
    pub fn to_frame<T: Copy>(self, values: &[T], height: usize, width: usize) -> Vec<T> {
        let sources = self.sources(height, width);
        values
            .chunks(height * width)
            .flat_map(|plane| sources.iter().map(|&s| plane[s]))
            .collect()
    }

    /// The inverse of [`Order::to_frame`]: planar images in the order's frame, whose original
    /// is `height`×`width`, back in the original's frame.
    pub fn from_frame<T: Copy>(self, values: &[T], height: usize, width: usize) -> Vec<T> {
        let sources = self.sources(height, width);
        let mut out = values.to_vec();
        for (plane, framed) in out
            .chunks_mut(height * width)
            .zip(values.chunks(height * width))
        {
            for (&s, &v) in sources.iter().zip(framed) {
                plane[s] = v;
            }
        }
        out
    }

    /// Images [B, C, H, W] seen in the order's frame, on the device.
    pub fn apply<K: Basic>(self, x: Tensor<4, K>) -> Tensor<4, K> {
        let x = if self.transposes() {
            x.swap_dims(2, 3)
        } else {
            x
        };
        let x = if self.flips_rows() { x.flip([2]) } else { x };
        if self.flips_columns() { x.flip([3]) } else { x }
    }

    /// The inverse of [`Order::apply`]: images [B, C, H', W'] in the order's frame back in
    /// the original's.
    pub fn unapply<K: Basic>(self, x: Tensor<4, K>) -> Tensor<4, K> {
        let x = if self.flips_columns() { x.flip([3]) } else { x };
        let x = if self.flips_rows() { x.flip([2]) } else { x };
        if self.transposes() {
            x.swap_dims(2, 3)
        } else {
            x
        }
    }
}

/// The positions of a row-major mask (true = known) that are known and come after its first
/// hidden one: what a raster sampler cannot see while it fills the hole.
pub fn known_after_first_hidden(known: &[bool]) -> Vec<bool> {
    let first = known.iter().position(|k| !k).unwrap_or(known.len());
    known
        .iter()
        .enumerate()
        .map(|(p, &k)| k && p > first)
        .collect()
}

/// How many known pixels come after the first hidden one when a `height`×`width` mask
/// (row-major, true = known) is generated in `order`.
pub fn known_after_hole(order: Order, known: &[bool], height: usize, width: usize) -> usize {
    known_after_first_hidden(&order.to_frame(known, height, width))
        .into_iter()
        .filter(|&k| k)
        .count()
}

/// The order among the first `orders` that leaves the fewest known pixels after the first
/// hidden one (ties: the lowest index, so the identity first).
pub fn choose(known: &[bool], height: usize, width: usize, orders: usize) -> Order {
    Order::first(orders.max(1))
        .min_by_key(|&o| (known_after_hole(o, known, height, width), o))
        .unwrap_or(Order::IDENTITY)
}
