//! Invoice totals the way Dinero computes them: amounts excluding VAT per line, VAT from the
//! VAT code of each line's account, `ShowLinesInclVat`, discount percent, two decimals.
//!
//! Rounding order (undocumented by Dinero, chosen as the likeliest): each line's total is
//! rounded to two decimals; VAT is computed per VAT rate on the sum of those rounded line
//! totals and rounded once per rate.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::config::Rounding;

/// One line as the totals need it.
pub struct LineInput {
    pub quantity: Decimal,
    pub base_amount: Decimal,
    pub discount_percent: Decimal,
    pub vat_rate: Decimal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LineTotals {
    pub base_amount_excl_vat: Decimal,
    pub base_amount_incl_vat: Decimal,
    pub total_excl_vat: Decimal,
    pub total_incl_vat: Decimal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    pub lines: Vec<LineTotals>,
    pub total_excl_vat: Decimal,
    pub total_vat: Decimal,
    pub total_incl_vat: Decimal,
    pub total_vatable: Decimal,
    pub total_non_vatable: Decimal,
    /// VAT per rate, for the `TotalLines` breakdown.
    pub vat_by_rate: BTreeMap<Decimal, Decimal>,
}

pub fn round2(value: Decimal, rounding: Rounding) -> Decimal {
    let strategy = match rounding {
        Rounding::HalfAwayFromZero => RoundingStrategy::MidpointAwayFromZero,
        Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
    };
    value.round_dp_with_strategy(2, strategy)
}

pub fn compute(lines: &[LineInput], lines_incl_vat: bool, rounding: Rounding) -> Totals {
    let hundred = Decimal::ONE_HUNDRED;
    let mut out = Vec::with_capacity(lines.len());
    // Per rate: the sum of rounded line amounts, excl. VAT or incl. VAT depending on the mode.
    let mut sum_by_rate: BTreeMap<Decimal, Decimal> = BTreeMap::new();
    for line in lines {
        let factor = (hundred - line.discount_percent) / hundred;
        let one_plus_rate = Decimal::ONE + line.vat_rate;
        let (base_excl, base_incl, total_excl, total_incl) = if lines_incl_vat {
            let total_incl = round2(line.quantity * line.base_amount * factor, rounding);
            let total_excl = round2(total_incl / one_plus_rate, rounding);
            let base_excl = round2(line.base_amount / one_plus_rate, rounding);
            (base_excl, line.base_amount, total_excl, total_incl)
        } else {
            let total_excl = round2(line.quantity * line.base_amount * factor, rounding);
            let total_incl = round2(total_excl * one_plus_rate, rounding);
            let base_incl = round2(line.base_amount * one_plus_rate, rounding);
            (line.base_amount, base_incl, total_excl, total_incl)
        };
        let counted = if lines_incl_vat {
            total_incl
        } else {
            total_excl
        };
        *sum_by_rate.entry(line.vat_rate).or_default() += counted;
        out.push(LineTotals {
            base_amount_excl_vat: base_excl,
            base_amount_incl_vat: base_incl,
            total_excl_vat: total_excl,
            total_incl_vat: total_incl,
        });
    }

    let mut totals = Totals {
        lines: out,
        total_excl_vat: Decimal::ZERO,
        total_vat: Decimal::ZERO,
        total_incl_vat: Decimal::ZERO,
        total_vatable: Decimal::ZERO,
        total_non_vatable: Decimal::ZERO,
        vat_by_rate: BTreeMap::new(),
    };
    for (rate, sum) in sum_by_rate {
        let (excl, vat) = if lines_incl_vat {
            let vat = round2(sum * rate / (Decimal::ONE + rate), rounding);
            (sum - vat, vat)
        } else {
            (sum, round2(sum * rate, rounding))
        };
        totals.total_excl_vat += excl;
        totals.total_vat += vat;
        if rate.is_zero() {
            totals.total_non_vatable += excl;
        } else {
            totals.total_vatable += excl;
            totals.vat_by_rate.insert(rate, vat);
        }
    }
    totals.total_incl_vat = totals.total_excl_vat + totals.total_vat;
    totals
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(quantity: i64, base: &str, discount: i64, rate: &str) -> LineInput {
        LineInput {
            quantity: Decimal::from(quantity),
            base_amount: base.parse().unwrap(),
            discount_percent: Decimal::from(discount),
            vat_rate: rate.parse().unwrap(),
        }
    }

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn dinero_api_md_example_totals_91_20_plus_22_80() {
        let lines = [
            line(2, "20.00", 0, "0.25"),
            line(1, "48.00", 10, "0.25"),
            line(1, "8.00", 0, "0.25"),
        ];
        let totals = compute(&lines, false, Rounding::HalfAwayFromZero);
        assert_eq!(totals.total_excl_vat, dec("91.20"));
        assert_eq!(totals.total_vat, dec("22.80"));
        assert_eq!(totals.total_incl_vat, dec("114.00"));
        assert_eq!(totals.lines[1].total_excl_vat, dec("43.20"));
        assert_eq!(totals.lines[1].base_amount_incl_vat, dec("60.00"));
    }

    #[test]
    fn lines_including_vat_split_vat_out_of_the_total() {
        let lines = [line(3, "99.95", 0, "0.25"), line(1, "49.00", 0, "0")];
        let totals = compute(&lines, true, Rounding::HalfAwayFromZero);
        // 299.85 incl. 25% VAT: VAT = 299.85 * 0.2 = 59.97
        assert_eq!(totals.total_incl_vat, dec("348.85"));
        assert_eq!(totals.total_vat, dec("59.97"));
        assert_eq!(totals.total_excl_vat, dec("288.88"));
        assert_eq!(totals.total_vatable, dec("239.88"));
        assert_eq!(totals.total_non_vatable, dec("49.00"));
        assert_eq!(totals.lines[0].base_amount_excl_vat, dec("79.96"));
    }

    #[test]
    fn midpoints_follow_the_configured_rounding() {
        // 0.125 * 1 = 0.125: away from zero gives 0.13, half-even gives 0.12.
        let lines = [line(1, "0.125", 0, "0")];
        assert_eq!(
            compute(&lines, false, Rounding::HalfAwayFromZero).total_excl_vat,
            dec("0.13")
        );
        assert_eq!(
            compute(&lines, false, Rounding::HalfEven).total_excl_vat,
            dec("0.12")
        );
    }

    #[test]
    fn vat_is_rounded_once_per_rate_not_per_line() {
        // Three lines of 0.10 at 25%: per line VAT 0.025 would round to 0.03 each (0.09);
        // on the sum 0.30 it is 0.075 -> 0.08.
        let lines = [
            line(1, "0.10", 0, "0.25"),
            line(1, "0.10", 0, "0.25"),
            line(1, "0.10", 0, "0.25"),
        ];
        let totals = compute(&lines, false, Rounding::HalfAwayFromZero);
        assert_eq!(totals.total_vat, dec("0.08"));
        assert_eq!(totals.total_incl_vat, dec("0.38"));
    }

    #[test]
    fn negative_lines_reduce_the_totals() {
        let lines = [line(1, "100", 0, "0.25"), line(1, "-20", 0, "0.25")];
        let totals = compute(&lines, false, Rounding::HalfAwayFromZero);
        assert_eq!(totals.total_excl_vat, dec("80"));
        assert_eq!(totals.total_vat, dec("20.00"));
    }
}
