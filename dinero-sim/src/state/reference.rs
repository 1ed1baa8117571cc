//! Reference data every organization shares: countries, currencies and invoice line units.

/// ISO country keys with Danish and English names (`GET /v1/countries`).
pub const COUNTRIES: &[(&str, &str, &str)] = &[
    ("AT", "Østrig", "Austria"),
    ("AU", "Australien", "Australia"),
    ("BE", "Belgien", "Belgium"),
    ("BG", "Bulgarien", "Bulgaria"),
    ("CA", "Canada", "Canada"),
    ("CH", "Schweiz", "Switzerland"),
    ("CN", "Kina", "China"),
    ("CY", "Cypern", "Cyprus"),
    ("CZ", "Tjekkiet", "Czech Republic"),
    ("DE", "Tyskland", "Germany"),
    ("DK", "Danmark", "Denmark"),
    ("EE", "Estland", "Estonia"),
    ("ES", "Spanien", "Spain"),
    ("FI", "Finland", "Finland"),
    ("FO", "Færøerne", "Faroe Islands"),
    ("FR", "Frankrig", "France"),
    ("GB", "Storbritannien", "United Kingdom"),
    ("GL", "Grønland", "Greenland"),
    ("GR", "Grækenland", "Greece"),
    ("HR", "Kroatien", "Croatia"),
    ("HU", "Ungarn", "Hungary"),
    ("IE", "Irland", "Ireland"),
    ("IS", "Island", "Iceland"),
    ("IT", "Italien", "Italy"),
    ("JP", "Japan", "Japan"),
    ("LT", "Litauen", "Lithuania"),
    ("LU", "Luxembourg", "Luxembourg"),
    ("LV", "Letland", "Latvia"),
    ("MT", "Malta", "Malta"),
    ("NL", "Holland", "Netherlands"),
    ("NO", "Norge", "Norway"),
    ("NZ", "New Zealand", "New Zealand"),
    ("PL", "Polen", "Poland"),
    ("PT", "Portugal", "Portugal"),
    ("RO", "Rumænien", "Romania"),
    ("SE", "Sverige", "Sweden"),
    ("SI", "Slovenien", "Slovenia"),
    ("SK", "Slovakiet", "Slovakia"),
    ("US", "USA", "United States"),
];

/// EU member states, for a contact's `VatRegionKey` (DK | EU | World).
const EU: &[&str] = &[
    "AT", "BE", "BG", "CY", "CZ", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT",
    "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// Currencies an invoice may carry. Dinero documents none; these are the ones it is known to
/// take plus other common ISO 4217 codes.
pub const CURRENCIES: &[&str] = &[
    "DKK", "EUR", "USD", "GBP", "SEK", "NOK", "CHF", "PLN", "ISK", "CAD", "AUD", "JPY", "CZK",
    "HUF", "NZD",
];

/// `Unit` values of `InvoiceLinesCreateModel`.
pub const UNITS: &[&str] = &[
    "hours",
    "parts",
    "km",
    "day",
    "week",
    "month",
    "kilogram",
    "cubicMetre",
    "set",
    "litre",
    "box",
    "case",
    "carton",
    "metre",
    "package",
    "shipment",
    "squareMetre",
    "session",
    "tonne",
];

pub fn is_country(key: &str) -> bool {
    COUNTRIES.iter().any(|(k, _, _)| *k == key)
}

pub fn vat_region(country: &str) -> &'static str {
    match country {
        "DK" => "DK",
        c if EU.contains(&c) => "EU",
        _ => "World",
    }
}

/// Dinero applies "the day's currency rate" to an invoice in another currency and shows its
/// totals in DKK in the invoice list (`TotalInclVatInDkk`). The simulator's day never changes:
/// these are its rates, DKK per 100 units (a day's Danmarks Nationalbank rates, rounded).
pub const DKK_PER_100: &[(&str, &str)] = &[
    ("DKK", "100"),
    ("EUR", "746.04"),
    ("USD", "689.47"),
    ("GBP", "868.90"),
    ("SEK", "64.12"),
    ("NOK", "62.35"),
    ("CHF", "780.55"),
    ("PLN", "172.40"),
    ("ISK", "5.05"),
    ("CAD", "492.10"),
    ("AUD", "447.60"),
    ("JPY", "4.46"),
    ("CZK", "29.65"),
    ("HUF", "1.87"),
    ("NZD", "400.20"),
];

/// DKK per 100 units of `currency`, when the simulator knows it.
pub fn dkk_per_100(currency: &str) -> Option<rust_decimal::Decimal> {
    DKK_PER_100
        .iter()
        .find(|(code, _)| code.eq_ignore_ascii_case(currency))
        .and_then(|(_, rate)| rate.parse().ok())
}
