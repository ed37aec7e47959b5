// Limb arithmetic keeps the low 32 bits on purpose.
#![allow(clippy::cast_possible_truncation)]
//! Python integers beyond 64 bits, as far as manifests need them: exact parsing in any base,
//! exact comparison, and decimal printing. Python 3.11 refuses to print (and to parse from
//! decimal) integers of more than 4300 digits, so nothing larger is ever built here, which also
//! bounds the (quadratic) conversion cost.

use std::fmt::Write as _;

use super::Yaml;

/// A sign and a little-endian magnitude in base 2^32.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BigInt {
    neg: bool,
    mag: Vec<u32>,
}

impl BigInt {
    /// Python 3.11's default `sys.get_int_max_str_digits()`.
    pub const MAX_DECIMAL_DIGITS: usize = 4300;
    /// 10^4300 < 2^14285: anything with more bits cannot be printed by Python.
    const MAX_BITS: usize = 14_285;

    pub fn zero() -> Self {
        BigInt {
            neg: false,
            mag: Vec::new(),
        }
    }

    fn trim(mut self) -> Self {
        while self.mag.last() == Some(&0) {
            self.mag.pop();
        }
        if self.mag.is_empty() {
            self.neg = false;
        }
        self
    }

    fn bits(&self) -> usize {
        match self.mag.last() {
            None => 0,
            Some(top) => (self.mag.len() - 1) * 32 + (32 - top.leading_zeros() as usize),
        }
    }

    /// Parses ASCII digits of `radix`; `None` when the value is too large to ever print.
    pub fn parse_radix(digits: &str, radix: u32) -> Option<Self> {
        let mut n = BigInt::zero();
        for c in digits.chars() {
            let d = c.to_digit(radix)?;
            n = n.mul_small(radix).add(&BigInt::from_u64(u64::from(d)))?;
        }
        Some(n)
    }

    fn from_u64(v: u64) -> Self {
        BigInt {
            neg: false,
            mag: vec![v as u32, (v >> 32) as u32],
        }
        .trim()
    }

    pub fn neg(mut self) -> Self {
        if !self.mag.is_empty() {
            self.neg = !self.neg;
        }
        self
    }

    /// `self * m` (magnitude only; the sign is kept).
    pub fn mul_small(mut self, m: u32) -> Self {
        let mut carry: u64 = 0;
        for limb in &mut self.mag {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.mag.push(carry as u32);
        }
        self.trim()
    }

    /// `self + other` for non-negative operands; `None` past the printable size.
    pub fn add(mut self, other: &BigInt) -> Option<Self> {
        debug_assert!(!self.neg && !other.neg);
        let mut carry = 0u64;
        for i in 0..self.mag.len().max(other.mag.len()) {
            if i == self.mag.len() {
                self.mag.push(0);
            }
            let v = u64::from(self.mag[i]) + u64::from(*other.mag.get(i).unwrap_or(&0)) + carry;
            self.mag[i] = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.mag.push(carry as u32);
        }
        let n = self.trim();
        (n.bits() <= Self::MAX_BITS).then_some(n)
    }

    /// `Int` when it fits in 64 bits, else `BigInt` with its decimal text.
    pub fn into_yaml(self) -> Yaml {
        if self.bits() <= 63 {
            let mut v: i64 = 0;
            for (i, limb) in self.mag.iter().enumerate() {
                v |= i64::from(*limb) << (32 * i);
            }
            return Yaml::Int(if self.neg { -v } else { v });
        }
        if self.neg && self.bits() == 64 && self.mag == [0, 0x8000_0000] {
            return Yaml::Int(i64::MIN);
        }
        Yaml::BigInt(self.to_decimal())
    }

    fn to_decimal(&self) -> String {
        let mut mag = self.mag.clone();
        let mut chunks = Vec::new();
        while !mag.is_empty() {
            let mut rem: u64 = 0;
            for limb in mag.iter_mut().rev() {
                let cur = (rem << 32) | u64::from(*limb);
                *limb = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            while mag.last() == Some(&0) {
                mag.pop();
            }
            chunks.push(rem as u32);
        }
        let mut s = String::new();
        if self.neg {
            s.push('-');
        }
        match chunks.split_last() {
            None => s.push('0'),
            Some((top, rest)) => {
                s.push_str(&top.to_string());
                for c in rest.iter().rev() {
                    let _ = write!(s, "{c:09}");
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prints_and_bounds() {
        let n = BigInt::parse_radix("ffffffffffffffffffff", 16).unwrap();
        assert_eq!(
            n.into_yaml(),
            Yaml::BigInt("1208925819614629174706175".into())
        );
        assert_eq!(
            BigInt::parse_radix("9223372036854775807", 10)
                .unwrap()
                .into_yaml(),
            Yaml::Int(i64::MAX)
        );
        assert_eq!(
            BigInt::parse_radix("9223372036854775808", 10)
                .unwrap()
                .neg()
                .into_yaml(),
            Yaml::Int(i64::MIN)
        );
        assert!(BigInt::parse_radix(&"1".repeat(4400), 2).is_some());
        assert!(BigInt::parse_radix(&"f".repeat(4000), 16).is_none());
    }
}
