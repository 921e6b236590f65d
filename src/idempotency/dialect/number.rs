//! The shortest decimal digits that read back as a given `f64`: what Python's `repr` and
//! JavaScript's `Number.prototype.toString` both start from.

use std::io;

/// A finite `f64`'s magnitude as its shortest round-trip decimal digits and the decimal
/// exponent of the first of them: `1.5e-7` is the digits `15` and the exponent -7; zero is the
/// digit `0` and the exponent 0.
#[derive(Debug)]
pub(super) struct Decimal {
    /// ASCII digits, the first and the last of them non-zero unless the value is zero.
    digits: [u8; 32],
    len: usize,
    exponent: i32,
}

impl Decimal {
    /// The shortest digits of `value`'s magnitude, the closest to it among the shortest (the
    /// digits Python's `repr` and JavaScript's `toString` choose); `None` for a value that is
    /// not finite.
    ///
    /// The digits are those serde_json writes a float with (its shortest round-trip digits,
    /// which the cross-checks compare with CPython's and Node's). serde_json lays them out
    /// as `d.ddd`, `0.000ddd`, `ddd00.0` or `d.ddde-x`; all read back here the same way.
    pub(super) fn shortest(value: f64) -> Option<Decimal> {
        if !value.is_finite() {
            return None;
        }
        let mut text = Text {
            bytes: [0; 32],
            len: 0,
        };
        // At most 17 digits, a point, `e-324` and `0.` or `.0`: under 32 bytes.
        serde_json::to_writer(&mut text, &value.abs()).ok()?;
        let written = text.bytes.get(..text.len)?;
        let (mantissa, exponent) = match written.iter().position(|&byte| byte == b'e') {
            Some(e) => (written.get(..e)?, parse_exponent(written.get(e + 1..)?)?),
            None => (written, 0),
        };

        let mut decimal = Decimal {
            digits: [0; 32],
            len: 0,
            exponent: 0,
        };
        // How many digits come before the point, and how many zeros before the first other.
        let mut before_point: Option<i32> = None;
        let mut digits: i32 = 0;
        let mut leading_zeros: i32 = 0;
        for &byte in mantissa {
            match byte {
                b'.' if before_point.is_none() => before_point = Some(digits),
                b'0' if decimal.len == 0 => {
                    digits += 1;
                    leading_zeros += 1;
                }
                b'0'..=b'9' => {
                    *decimal.digits.get_mut(decimal.len)? = byte;
                    decimal.len += 1;
                    digits += 1;
                }
                _ => return None,
            }
        }
        if decimal.len == 0 {
            // Zero.
            decimal.digits = [b'0'; 32];
            decimal.len = 1;
            return Some(decimal);
        }
        while decimal.len > 1 && decimal.digits.get(decimal.len - 1) == Some(&b'0') {
            decimal.len -= 1;
        }
        decimal.exponent = before_point
            .unwrap_or(digits)
            .checked_sub(1 + leading_zeros)?
            .checked_add(exponent)?;
        Some(decimal)
    }

    /// The digits, as ASCII.
    pub(super) fn digits(&self) -> &[u8] {
        self.digits.get(..self.len).unwrap_or_default()
    }

    /// The decimal exponent of the first digit.
    pub(super) fn exponent(&self) -> i32 {
        self.exponent
    }
}

/// Appends `value` as serde_json writes it if serde_json writes it in fixed notation with a
/// point (`42.5`, `100.0`, `0.001`), without a trailing `.0` unless `point_zero`; returns
/// whether it did. The shortest digits in fixed notation are what Python's `repr` and
/// JavaScript's `toString` write too, for the values they write in fixed notation.
pub(super) fn push_plain(out: &mut Vec<u8>, value: f64, point_zero: bool) -> bool {
    let mut text = Text {
        bytes: [0; 32],
        len: 0,
    };
    if serde_json::to_writer(&mut text, &value).is_err() {
        return false;
    }
    let Some(written) = text.bytes.get(..text.len) else {
        return false;
    };
    if written.contains(&b'e') || !written.contains(&b'.') {
        return false;
    }
    let written = match written.strip_suffix(b".0") {
        Some(integral) if !point_zero => integral,
        _ => written,
    };
    out.extend_from_slice(written);
    true
}

/// The exponent after the `e`: `16`, `-7`.
fn parse_exponent(text: &[u8]) -> Option<i32> {
    let (negative, magnitude) = match text.split_first()? {
        (b'-', magnitude) => (true, magnitude),
        (b'+', magnitude) => (false, magnitude),
        _ => (false, text),
    };
    let mut parsed: i32 = 0;
    for &digit in magnitude {
        if !digit.is_ascii_digit() {
            return None;
        }
        parsed = parsed
            .checked_mul(10)?
            .checked_add(i32::from(digit - b'0'))?;
    }
    Some(if negative { -parsed } else { parsed })
}

/// A fixed buffer that serde_json writes one float into, without allocating.
struct Text {
    bytes: [u8; 32],
    len: usize,
}

impl io::Write for Text {
    fn write(&mut self, text: &[u8]) -> io::Result<usize> {
        self.write_all(text).map(|()| text.len())
    }

    fn write_all(&mut self, text: &[u8]) -> io::Result<()> {
        let end = self.len + text.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(io::ErrorKind::WriteZero)?
            .copy_from_slice(text);
        self.len = end;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
