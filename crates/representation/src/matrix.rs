//! A plain row-major f32 matrix (rows = samples).

use crate::error::RepresentationError;

/// Row-major f32 matrix (rows = samples).
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    /// `rows × cols` values, row after row.
    pub data: Vec<f32>,
}

impl Matrix {
    /// Checks that `data.len() == rows × cols`.
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Result<Self, RepresentationError> {
        match rows.checked_mul(cols) {
            Some(n) if n == data.len() => Ok(Self { rows, cols, data }),
            other => Err(RepresentationError::MatrixShape {
                rows,
                cols,
                expected: other.map_or_else(|| "an overflowing number of".into(), |n| n.to_string()),
                got: data.len(),
            }),
        }
    }

    /// Row `i`. Panics if `i >= rows` (like slice indexing).
    pub fn row(&self, i: usize) -> &[f32] {
        assert!(i < self.rows, "row {i} out of range ({} rows)", self.rows);
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Index of the first non-finite value, if any.
    pub(crate) fn first_non_finite(&self) -> Option<usize> {
        self.data.iter().position(|x| !x.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_checks_shape() {
        let m = Matrix::new(2, 3, (0..6).map(|x| x as f32).collect()).unwrap();
        assert_eq!(m.row(1), &[3.0, 4.0, 5.0]);
        assert!(Matrix::new(2, 3, vec![0.0; 5]).is_err());
        assert!(Matrix::new(usize::MAX, 2, vec![]).is_err());
        assert!(Matrix::new(0, 5, vec![]).is_ok());
    }
}
