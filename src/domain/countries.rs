//! ISO 3166-1 alpha-2 country codes and EU membership, for validation and VAT situations.

/// Every officially assigned ISO 3166-1 alpha-2 code.
const ISO: &str =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM \
BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM \
DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW \
GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA \
LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ \
NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW \
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR \
TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// EU member states other than Denmark.
const EU_OTHER: &[&str] = &[
    "AT", "BE", "BG", "CY", "CZ", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT",
    "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

pub fn is_iso_country(code: &str) -> bool {
    code.len() == 2 && ISO.split_whitespace().any(|c| c == code)
}

pub fn is_eu_other_than_denmark(code: &str) -> bool {
    EU_OTHER.contains(&code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_codes_are_exact_and_upper_case() {
        assert!(is_iso_country("DK") && is_iso_country("NO") && is_iso_country("US"));
        assert!(!is_iso_country("dk") && !is_iso_country("XX") && !is_iso_country("DNK"));
        assert!(is_eu_other_than_denmark("DE") && !is_eu_other_than_denmark("DK"));
        assert!(!is_eu_other_than_denmark("NO"));
    }
}
