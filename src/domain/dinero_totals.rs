//! How Dinero totals an invoice, computed ahead so an order whose invoice would not match
//! is stopped before anything is created: line totals rounded to two decimals, VAT per rate
//! on the sum of the rounded line totals (half away from zero). Dinero does not document its
//! rounding; the tolerance of the totals check absorbs a cent either way.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};

pub struct TotalsLine {
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub discount_percent: Decimal,
    /// Percent.
    pub vat_rate: Decimal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvoiceTotals {
    /// Including VAT.
    pub total: Decimal,
    pub vat: Decimal,
}

fn round2(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

pub fn compute(lines: &[TotalsLine], prices_include_vat: bool) -> InvoiceTotals {
    let mut by_rate: BTreeMap<Decimal, Decimal> = BTreeMap::new();
    for line in lines {
        let amount = round2(
            line.quantity * line.unit_price * (Decimal::ONE_HUNDRED - line.discount_percent)
                / Decimal::ONE_HUNDRED,
        );
        *by_rate.entry(line.vat_rate).or_default() += amount;
    }
    let mut totals = InvoiceTotals {
        total: Decimal::ZERO,
        vat: Decimal::ZERO,
    };
    for (rate, sum) in by_rate {
        let rate = rate / Decimal::ONE_HUNDRED;
        if prices_include_vat {
            totals.vat += round2(sum * rate / (Decimal::ONE + rate));
            totals.total += sum;
        } else {
            let vat = round2(sum * rate);
            totals.vat += vat;
            totals.total += sum + vat;
        }
    }
    totals
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn line(quantity: Decimal, price: Decimal, discount: Decimal, rate: Decimal) -> TotalsLine {
        TotalsLine {
            quantity,
            unit_price: price,
            discount_percent: discount,
            vat_rate: rate,
        }
    }

    #[test]
    fn excluding_vat_matches_dinero_s_documented_example() {
        let lines = [
            line(dec!(2), dec!(20), dec!(0), dec!(25)),
            line(dec!(1), dec!(48), dec!(10), dec!(25)),
            line(dec!(1), dec!(8), dec!(0), dec!(25)),
        ];
        assert_eq!(
            compute(&lines, false),
            InvoiceTotals {
                total: dec!(114.00),
                vat: dec!(22.80)
            }
        );
    }

    #[test]
    fn including_vat_takes_vat_out_of_the_total() {
        let lines = [
            line(dec!(3), dec!(99.95), dec!(0), dec!(25)),
            line(dec!(1), dec!(49), dec!(0), dec!(0)),
        ];
        assert_eq!(
            compute(&lines, true),
            InvoiceTotals {
                total: dec!(348.85),
                vat: dec!(59.97)
            }
        );
    }

    /// 1 × 10.05 at 50% is 5.025: half an øre. Each line is rounded on its own, halves away
    /// from zero (5.03), before VAT is taken of the sum; leaving the line unrounded (6.285) or
    /// rounding halves to even (5.02 → 6.28) both miss Dinero's 6.29.
    #[test]
    fn a_line_on_half_an_øre_is_rounded_by_itself_and_away_from_zero() {
        let lines = [line(dec!(1), dec!(10.05), dec!(50), dec!(25))];
        assert_eq!(
            compute(&lines, false),
            InvoiceTotals {
                total: dec!(6.29),
                vat: dec!(1.26)
            }
        );
        let negative = [line(dec!(1), dec!(-10.05), dec!(50), dec!(25))];
        assert_eq!(compute(&negative, false).total, dec!(-6.29));
    }
}
