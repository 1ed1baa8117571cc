//! Seed data: integrator clients, Visma Connect users and organizations with their chart of
//! accounts, loaded from a JSON file, the admin endpoint, or the built-in demo world.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Integrator clients for the personal-integration password grant.
    pub clients: Vec<ClientSeed>,
    /// Visma Connect clients (ids usually start with `isv_`).
    pub connect_clients: Vec<ClientSeed>,
    /// Visma Connect users: refresh tokens that are valid from the start, and their orgs.
    pub connect_users: Vec<ConnectUserSeed>,
    pub organizations: Vec<OrganizationSeed>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSeed {
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectUserSeed {
    pub refresh_token: String,
    pub organizations: Vec<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationSeed {
    pub id: i64,
    #[serde(default = "default_org_name")]
    pub name: String,
    #[serde(default = "yes")]
    pub is_pro: bool,
    #[serde(default)]
    pub is_vat_free: bool,
    /// API keys that the personal-integration grant accepts for this organization.
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// Entry accounts; the standard demo chart when omitted.
    #[serde(default)]
    pub accounts: Option<Vec<AccountSeed>>,
    /// Deposit accounts; the standard demo ones when omitted.
    #[serde(default)]
    pub deposit_accounts: Option<Vec<DepositSeed>>,
    /// VAT types; the standard demo ones when omitted.
    #[serde(default)]
    pub vat_types: Option<Vec<VatTypeSeed>>,
    /// Contacts that exist from the start, in Dinero's create-model shape (PascalCase).
    #[serde(default)]
    pub contacts: Vec<serde_json::Value>,
    /// Invoice numbers already used by vouchers made outside the API.
    #[serde(default)]
    pub used_invoice_numbers: Vec<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSeed {
    pub number: i32,
    pub name: String,
    #[serde(default)]
    pub vat_code: Option<String>,
    #[serde(default = "turnover")]
    pub category: String,
    #[serde(default)]
    pub hidden: bool,
    #[serde(default)]
    pub default_sales: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepositSeed {
    pub number: i32,
    pub name: String,
    #[serde(default)]
    pub default: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VatTypeSeed {
    pub code: String,
    pub name: String,
    pub rate: rust_decimal::Decimal,
}

fn default_org_name() -> String {
    "Simulated ApS".to_owned()
}
fn yes() -> bool {
    true
}
fn turnover() -> String {
    "Turnover".to_owned()
}

/// The demo world seeded when no scenario file is given; documented in `--help`.
pub fn demo() -> Scenario {
    serde_json::from_str(include_str!("../scenarios/demo.json")).expect("demo scenario is valid")
}

/// The chart of accounts an organization gets when its seed names none. The VAT codes follow
/// Dinero's naming for sales (U25); the zero-rated sales codes are the simulator's own names,
/// because the service never assumes them: tenants map accounts explicitly.
pub fn standard_accounts() -> Vec<AccountSeed> {
    let account = |number, name: &str, vat: Option<&str>, category: &str| AccountSeed {
        number,
        name: name.to_owned(),
        vat_code: vat.map(str::to_owned),
        category: category.to_owned(),
        hidden: false,
        default_sales: number == 1000,
    };
    let mut accounts = vec![
        account(
            1000,
            "Salg af varer/ydelser m/moms",
            Some("U25"),
            "Turnover",
        ),
        account(1010, "Salg af fragt m/moms", Some("U25"), "Turnover"),
        account(1020, "Salg af gebyrer m/moms", Some("U25"), "Turnover"),
        account(1050, "Salg af varer/ydelser u/moms", None, "Turnover"),
        account(
            1100,
            "Salg af varer til EU (omvendt betalingspligt)",
            Some("UEUV"),
            "Turnover",
        ),
        account(
            1110,
            "Salg af ydelser til EU (omvendt betalingspligt)",
            Some("UEUY"),
            "Turnover",
        ),
        account(
            1200,
            "Salg af varer uden for EU (eksport)",
            Some("UEXP"),
            "Turnover",
        ),
        account(1300, "Salg til Norge (VOEC)", None, "Turnover"),
        account(7250, "Skyldig norsk moms (VOEC)", None, "Liabilities"),
        account(7260, "Gavekort, udstedte", None, "Liabilities"),
    ];
    accounts.push(AccountSeed {
        hidden: true,
        ..account(1999, "Skjult konto", None, "Turnover")
    });
    accounts
}

pub fn standard_deposit_accounts() -> Vec<DepositSeed> {
    [
        (55000, "Bank", true),
        (55010, "Stripe", false),
        (55020, "PayPal", false),
    ]
    .into_iter()
    .map(|(number, name, default)| DepositSeed {
        number,
        name: name.to_owned(),
        default,
    })
    .collect()
}

pub fn standard_vat_types() -> Vec<VatTypeSeed> {
    use rust_decimal::Decimal;
    [
        ("U25", "Salgsmoms 25%", Decimal::new(25, 2)),
        ("I25", "Dansk købsmoms", Decimal::new(25, 2)),
        ("UEUV", "Salg af varer til EU", Decimal::ZERO),
        ("UEUY", "Salg af ydelser til EU", Decimal::ZERO),
        ("UEXP", "Eksport uden for EU", Decimal::ZERO),
    ]
    .into_iter()
    .map(|(code, name, rate)| VatTypeSeed {
        code: code.to_owned(),
        name: name.to_owned(),
        rate,
    })
    .collect()
}
