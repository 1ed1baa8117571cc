//! Typed Dinero operations. [`DineroClient`] is shared by the whole service (HTTP pool, token
//! cache, rate limiter); [`OrganizationClient`] is one organization with its credentials.

use std::sync::Arc;

use reqwest::Method;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::auth::Credentials;
use super::config::DineroConfig;
use super::error::{DineroError, TenantStateReason};
use super::filter;
use super::transport::{Call, CallObserver, Transport};
use super::types::*;
use super::wire;
use crate::domain::reconciliation::{DineroVoucher, VoucherKind};

/// Dinero's largest page of a list (`pageSize`).
pub const MAX_PAGE: u32 = 1000;

/// Every page of a list, asked for with `read(page)` from page 0 (each of `MAX_PAGE` rows)
/// until one comes back short: the rows, and the calls it took.
pub async fn every_page<T, F, Fut>(mut read: F) -> Result<(Vec<T>, usize), DineroError>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, DineroError>>,
{
    let (mut all, mut calls) = (Vec::new(), 0);
    for page in 0.. {
        let rows = read(page).await?;
        calls += 1;
        let last = rows.len() < MAX_PAGE as usize;
        all.extend(rows);
        if last {
            break;
        }
    }
    Ok((all, calls))
}

#[derive(Clone)]
pub struct DineroClient {
    transport: Arc<Transport>,
}

impl DineroClient {
    pub fn new(config: DineroConfig) -> Result<Self, reqwest::Error> {
        Self::observed(config, None)
    }

    /// A client that tells `observer` of every exchange (metrics).
    pub fn observed(
        config: DineroConfig,
        observer: Option<Arc<dyn CallObserver>>,
    ) -> Result<Self, reqwest::Error> {
        Ok(DineroClient {
            transport: Arc::new(Transport::new(config, observer)?),
        })
    }

    pub fn organization(&self, id: i64, credentials: Credentials) -> OrganizationClient {
        OrganizationClient {
            transport: self.transport.clone(),
            id,
            credentials,
        }
    }

    /// Drop the cached token of an organization whose credentials changed.
    pub fn forget_token(&self, organization: i64) {
        self.transport.tokens.forget(organization);
    }
}

#[derive(Clone)]
pub struct OrganizationClient {
    transport: Arc<Transport>,
    id: i64,
    credentials: Credentials,
}

fn decode<T: DeserializeOwned>(operation: &'static str, body: &str) -> Result<T, DineroError> {
    serde_json::from_str(body).map_err(|error| DineroError::UnexpectedResponse {
        operation,
        reason: error.to_string(),
    })
}

fn version_from(
    operation: &'static str,
    time_stamp: Option<String>,
) -> Result<Version, DineroError> {
    time_stamp
        .map(Version)
        .ok_or_else(|| DineroError::UnexpectedResponse {
            operation,
            reason: "the answer has no TimeStamp".into(),
        })
}

fn invoice_of(
    operation: &'static str,
    read: wire::InvoiceRead,
    guid: Uuid,
) -> Result<Invoice, DineroError> {
    let status = match read.status.as_deref() {
        Some("Draft") | None => InvoiceStatus::Draft,
        Some(_) => InvoiceStatus::Booked,
    };
    Ok(Invoice {
        guid: read.guid.unwrap_or(guid),
        version: version_from(operation, read.time_stamp.clone())?,
        status,
        number: (read.number > 0).then_some(read.number),
        payment_status: read.payment_status.clone(),
        contact_guid: read.contact_guid,
        currency: read.currency.clone(),
        external_reference: read.external_reference.clone(),
        heading: read.description.clone(),
        comment: read.comment.clone(),
        date: read.date.clone(),
        totals: read.totals(),
        line_count: read.product_lines.len(),
        credit_note_for: read.credit_note_for,
        mail_out_status: read.mail_out_status,
    })
}

impl OrganizationClient {
    pub fn id(&self) -> i64 {
        self.id
    }

    async fn send(&self, call: Call) -> Result<String, DineroError> {
        Ok(self
            .transport
            .execute(self.id, &self.credentials, call)
            .await?
            .body)
    }

    fn org_path(&self, version: &str, rest: &str) -> String {
        format!("/{version}/{}{rest}", self.id)
    }

    /// Organizations these credentials reach (`GET /v1/organizations`).
    pub async fn organizations(&self) -> Result<Vec<Organization>, DineroError> {
        const OP: &str = "list organizations";
        let call = Call::new(
            OP,
            Method::GET,
            "/v1/organizations",
            "/v1/organizations".into(),
        )
        .query("fields", "Id,Name,IsPro");
        let rows: Vec<wire::Organization> = decode(OP, &self.send(call).await?)?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                Some(Organization {
                    id: row.id?,
                    name: row.name.unwrap_or_default(),
                    is_pro: row.is_pro.unwrap_or(false),
                })
            })
            .collect())
    }

    /// The credentials work, reach this organization, and it has Pro: the check to run when
    /// a tenant is saved.
    pub async fn verify_access(&self) -> Result<Organization, DineroError> {
        const OP: &str = "verify access";
        let denied = |reason, message: String| DineroError::TenantState {
            operation: OP,
            reason,
            status: None,
            code: None,
            message,
        };
        let organization = self
            .organizations()
            .await?
            .into_iter()
            .find(|org| org.id == self.id)
            .ok_or_else(|| {
                denied(
                    TenantStateReason::Forbidden,
                    format!(
                        "organization {} is not among those these credentials reach",
                        self.id
                    ),
                )
            })?;
        if !organization.is_pro {
            return Err(denied(
                TenantStateReason::NotPro,
                format!(
                    "organization {} ({}) has no Pro subscription",
                    organization.id, organization.name
                ),
            ));
        }
        Ok(organization)
    }

    pub async fn entry_accounts(&self) -> Result<Vec<EntryAccount>, DineroError> {
        const OP: &str = "list entry accounts";
        let call = Call::new(
            OP,
            Method::GET,
            "/v1/{organizationId}/accounts/entry",
            self.org_path("v1", "/accounts/entry"),
        )
        .query("fields", "AccountNumber,Name,VatCode,Category,IsHidden");
        let rows: Vec<wire::EntryAccount> = decode(OP, &self.send(call).await?)?;
        Ok(rows
            .into_iter()
            .map(|a| EntryAccount {
                number: a.account_number,
                name: a.name.unwrap_or_default(),
                vat_code: a.vat_code,
                category: a.category,
                hidden: a.is_hidden,
            })
            .collect())
    }

    pub async fn deposit_accounts(&self) -> Result<Vec<DepositAccount>, DineroError> {
        const OP: &str = "list deposit accounts";
        let call = Call::new(
            OP,
            Method::GET,
            "/v1/{organizationId}/accounts/deposit",
            self.org_path("v1", "/accounts/deposit"),
        )
        .query("fields", "AccountNumber,Name,IsDefault");
        let rows: Vec<wire::DepositAccount> = decode(OP, &self.send(call).await?)?;
        Ok(rows
            .into_iter()
            .map(|d| DepositAccount {
                number: d.account_number,
                name: d.name.unwrap_or_default(),
                is_default: d.is_default,
            })
            .collect())
    }

    pub async fn vat_types(&self) -> Result<Vec<VatType>, DineroError> {
        const OP: &str = "list VAT types";
        let call = Call::new(
            OP,
            Method::GET,
            "/v1/{organizationId}/vatTypes",
            self.org_path("v1", "/vatTypes"),
        );
        let rows: Vec<wire::VatType> = decode(OP, &self.send(call).await?)?;
        Ok(rows
            .into_iter()
            .map(|v| VatType {
                code: v.vat_code.unwrap_or_default(),
                name: v.name.unwrap_or_default(),
                rate: v.vat_rate,
            })
            .collect())
    }

    pub async fn countries(&self) -> Result<Vec<Country>, DineroError> {
        const OP: &str = "list countries";
        let call = Call::new(OP, Method::GET, "/v1/countries", "/v1/countries".into());
        let rows: Vec<wire::Country> = decode(OP, &self.send(call).await?)?;
        Ok(rows
            .into_iter()
            .map(|c| Country {
                key: c.key,
                english_name: c.english_name,
            })
            .collect())
    }

    // ----- contacts -----

    /// Live contacts matching a `queryFilter` (deleted ones are skipped: v2 lists them too).
    async fn find_contacts(&self, query_filter: String) -> Result<Vec<Contact>, DineroError> {
        const OP: &str = "find contacts";
        let call = Call::new(
            OP,
            Method::GET,
            "/v1/{organizationId}/contacts",
            self.org_path("v1", "/contacts"),
        )
        .query("queryFilter", query_filter)
        .query("fields", wire::CONTACT_FIELDS)
        .query("pageSize", "10");
        let page: wire::Page<wire::Contact> = decode(OP, &self.send(call).await?)?;
        Ok(page
            .collection
            .into_iter()
            .map(Contact::from)
            .filter(|c| !c.deleted)
            .collect())
    }

    pub async fn find_contact_by_external_reference(
        &self,
        reference: &str,
    ) -> Result<Option<Contact>, DineroError> {
        Ok(self
            .find_contacts(filter::eq("ExternalReference", reference))
            .await?
            .into_iter()
            .next())
    }

    /// Persons are matched by e-mail; Dinero compares case-insensitively.
    /// One page (from 0) of the organization's contacts, only those changed since `since`
    /// when given (`changesSince`), at most `page_size` (Dinero's most is 1,000). Deleted
    /// contacts are left out.
    pub async fn list_contacts(
        &self,
        since: Option<chrono::DateTime<chrono::Utc>>,
        page: u32,
        page_size: u32,
    ) -> Result<Vec<Contact>, DineroError> {
        const OP: &str = "list contacts";
        let mut call = Call::new(
            OP,
            Method::GET,
            "/v1/{organizationId}/contacts",
            self.org_path("v1", "/contacts"),
        )
        .query("fields", wire::CONTACT_FIELDS)
        .query("page", page.to_string())
        .query("pageSize", page_size.to_string());
        if let Some(since) = since {
            call = call.query(
                "changesSince",
                since.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            );
        }
        let page: wire::Page<wire::Contact> = decode(OP, &self.send(call).await?)?;
        Ok(page
            .collection
            .into_iter()
            .map(Contact::from)
            .filter(|c| !c.deleted)
            .collect())
    }

    pub async fn find_contact_by_email(&self, email: &str) -> Result<Option<Contact>, DineroError> {
        Ok(self
            .find_contacts(filter::eq("Email", email.trim()))
            .await?
            .into_iter()
            .next())
    }

    /// Companies are matched by VAT (CVR) number.
    pub async fn find_contact_by_vat_number(
        &self,
        vat_number: &str,
    ) -> Result<Option<Contact>, DineroError> {
        Ok(self
            .find_contacts(filter::eq("VatNumber", vat_number.trim()))
            .await?
            .into_iter()
            .next())
    }

    pub async fn get_contact(&self, guid: Uuid) -> Result<Option<Contact>, DineroError> {
        const OP: &str = "get contact";
        let call = Call::new(
            OP,
            Method::GET,
            "/v1/{organizationId}/contacts/{guid}",
            self.org_path("v1", &format!("/contacts/{guid}")),
        );
        match self.send(call).await {
            Ok(body) => Ok(Some(decode::<wire::Contact>(OP, &body)?.into())),
            Err(DineroError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    pub async fn create_contact(&self, contact: &NewContact) -> Result<Uuid, DineroError> {
        const OP: &str = "create contact";
        let call = Call::new(
            OP,
            Method::POST,
            "/v1/{organizationId}/contacts",
            self.org_path("v1", "/contacts"),
        )
        .json(&wire::ContactCreate::from(contact));
        let created: wire::ContactCreated = decode(OP, &self.send(call).await?)?;
        Ok(created.contact_guid)
    }

    // ----- invoices -----

    /// Create a draft invoice; give it a `guid` so a lost answer can be checked with
    /// [`Self::get_invoice`].
    pub async fn create_invoice(&self, invoice: &NewInvoice) -> Result<Created, DineroError> {
        const OP: &str = "create invoice";
        let call = Call::new(
            OP,
            Method::POST,
            "/v1/{organizationId}/invoices",
            self.org_path("v1", "/invoices"),
        )
        .json(&wire::InvoiceCreate::new(invoice, None));
        let created: wire::CreatedResponse = decode(OP, &self.send(call).await?)?;
        Ok(Created {
            guid: created.guid,
            version: version_from(OP, created.time_stamp)?,
        })
    }

    /// Dinero's totals for an invoice without saving it (`invoices/fetch`).
    pub async fn fetch_invoice_totals(&self, invoice: &NewInvoice) -> Result<Totals, DineroError> {
        const OP: &str = "fetch invoice totals";
        let call = Call::new(
            OP,
            Method::POST,
            "/v1/{organizationId}/invoices/fetch",
            self.org_path("v1", "/invoices/fetch"),
        )
        .json(&wire::InvoiceCreate::new(invoice, None));
        let read: wire::InvoiceRead = decode(OP, &self.send(call).await?)?;
        Ok(read.totals())
    }

    pub async fn get_invoice(&self, guid: Uuid) -> Result<Option<Invoice>, DineroError> {
        const OP: &str = "get invoice";
        let call = Call::new(
            OP,
            Method::GET,
            "/v1/{organizationId}/invoices/{guid}",
            self.org_path("v1", &format!("/invoices/{guid}")),
        );
        match self.send(call).await {
            Ok(body) => Ok(Some(invoice_of(OP, decode(OP, &body)?, guid)?)),
            Err(DineroError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Invoices (drafts included, deleted ones not) carrying this `ExternalReference`.
    pub async fn find_invoices_by_external_reference(
        &self,
        reference: &str,
    ) -> Result<Vec<InvoiceSummary>, DineroError> {
        let call = Call::new(
            "find invoices",
            Method::GET,
            "/v1/{organizationId}/invoices",
            self.org_path("v1", "/invoices"),
        );
        self.find_vouchers(call, reference).await
    }

    /// Credit notes (drafts included, deleted ones not) carrying this `ExternalReference`.
    pub async fn find_credit_notes_by_external_reference(
        &self,
        reference: &str,
    ) -> Result<Vec<InvoiceSummary>, DineroError> {
        let call = Call::new(
            "find credit notes",
            Method::GET,
            "/v1/{organizationId}/sales/creditnotes",
            self.org_path("v1", "/sales/creditnotes"),
        );
        self.find_vouchers(call, reference).await
    }

    /// One page (from 0) of the booked vouchers of `kind` dated in `[from, to]` (Dinero
    /// leaves drafts out of a date range), only those of `statuses` when given (e.g.
    /// `Paid,OverPaid`), at most `page_size` (Dinero's most is 1,000). Deleted ones are left out.
    pub async fn list_vouchers(
        &self,
        kind: VoucherKind,
        (from, to): (chrono::NaiveDate, chrono::NaiveDate),
        statuses: Option<&str>,
        page: u32,
        page_size: u32,
    ) -> Result<Vec<DineroVoucher>, DineroError> {
        let (operation, template, path) = match kind {
            VoucherKind::Invoice => (
                "list invoices",
                "/v1/{organizationId}/invoices",
                "/invoices",
            ),
            VoucherKind::CreditNote => (
                "list credit notes",
                "/v1/{organizationId}/sales/creditnotes",
                "/sales/creditnotes",
            ),
        };
        let mut call = Call::new(operation, Method::GET, template, self.org_path("v1", path))
            .query("startDate", from.format("%Y-%m-%d").to_string())
            .query("endDate", to.format("%Y-%m-%d").to_string())
            .query("fields", wire::VOUCHER_LIST_FIELDS)
            .query("page", page.to_string())
            .query("pageSize", page_size.to_string());
        if let Some(statuses) = statuses {
            call = call.query("statusFilter", statuses);
        }
        let page: wire::Page<wire::VoucherListRow> = decode(operation, &self.send(call).await?)?;
        Ok(page
            .collection
            .into_iter()
            .filter(|row| row.deleted_at.is_none())
            .map(|row| DineroVoucher {
                kind,
                guid: row.guid,
                number: row.number.filter(|n| *n > 0),
                external_reference: row.external_reference,
                currency: row.currency,
                total: row.total_incl_vat,
                date: row
                    .date
                    .as_deref()
                    .and_then(|d| chrono::NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok()),
            })
            .collect())
    }

    async fn find_vouchers(
        &self,
        call: Call,
        reference: &str,
    ) -> Result<Vec<InvoiceSummary>, DineroError> {
        let op = call.operation;
        let call = call
            .query("queryFilter", filter::eq("ExternalReference", reference))
            .query("fields", wire::INVOICE_ROW_FIELDS)
            .query("pageSize", "100");
        let page: wire::Page<wire::InvoiceRow> = decode(op, &self.send(call).await?)?;
        Ok(page
            .collection
            .into_iter()
            .map(|row| InvoiceSummary {
                guid: row.guid,
                number: row.number.filter(|n| *n > 0),
                status: row.status,
                external_reference: row.external_reference,
                deleted: row.deleted_at.is_some(),
                currency: row.currency,
                total_incl_vat: row.total_incl_vat,
                total_incl_vat_dkk: row.total_incl_vat_in_dkk,
            })
            .filter(|row| !row.deleted)
            .collect())
    }

    /// Book a draft, with the shop's own invoice number when `number` is given.
    pub async fn book_invoice(
        &self,
        guid: Uuid,
        version: &Version,
        number: Option<i64>,
    ) -> Result<Invoice, DineroError> {
        const OP: &str = "book invoice";
        let mut call = Call::new(
            OP,
            Method::POST,
            "/v1/{organizationId}/invoices/{guid}/book",
            self.org_path("v1", &format!("/invoices/{guid}/book")),
        )
        .json(&wire::Book {
            timestamp: &version.0,
            number,
        });
        call.booking_number = number;
        invoice_of(OP, decode(OP, &self.send(call).await?)?, guid)
    }

    pub async fn delete_draft_invoice(
        &self,
        guid: Uuid,
        version: &Version,
    ) -> Result<(), DineroError> {
        const OP: &str = "delete draft invoice";
        let call = Call::new(
            OP,
            Method::DELETE,
            "/v1/{organizationId}/invoices/{guid}",
            self.org_path("v1", &format!("/invoices/{guid}")),
        )
        .json(&wire::TimestampBody {
            timestamp: Some(&version.0),
        });
        self.send(call).await.map(drop)
    }

    /// Send a booked invoice to the contact's e-mail address with Dinero's own template.
    pub async fn email_invoice(&self, guid: Uuid) -> Result<(), DineroError> {
        const OP: &str = "email invoice";
        let call = Call::new(
            OP,
            Method::POST,
            "/v1/{organizationId}/invoices/{guid}/email",
            self.org_path("v1", &format!("/invoices/{guid}/email")),
        )
        .json(&wire::MailOut {
            should_add_trust_pilot_email_as_bcc: false,
        });
        self.send(call).await.map(drop)
    }

    /// Send a booked invoice as an e-invoice through NemHandel to the contact's EAN number.
    pub async fn e_invoice(&self, guid: Uuid) -> Result<(), DineroError> {
        const OP: &str = "e-invoice";
        let call = Call::new(
            OP,
            Method::POST,
            "/v3/{organizationId}/invoices/{guid}/e-invoice",
            self.org_path("v3", &format!("/invoices/{guid}/e-invoice")),
        )
        .json(&wire::TimestampBody { timestamp: None });
        self.send(call).await.map(drop)
    }

    // ----- payments -----

    pub async fn create_payment(
        &self,
        invoice: Uuid,
        version: &Version,
        payment: &NewPayment,
    ) -> Result<CreatedPayment, DineroError> {
        let call = Call::new(
            "create payment",
            Method::POST,
            "/v1/{organizationId}/invoices/{guid}/payments",
            self.org_path("v1", &format!("/invoices/{invoice}/payments")),
        );
        self.send_payment(call, version, payment).await
    }

    /// A refund paid out on a booked credit note.
    pub async fn create_credit_note_payment(
        &self,
        note: Uuid,
        version: &Version,
        payment: &NewPayment,
    ) -> Result<CreatedPayment, DineroError> {
        let call = Call::new(
            "create credit note payment",
            Method::POST,
            "/v1/{organizationId}/sales/creditnotes/{guid}/payments",
            self.org_path("v1", &format!("/sales/creditnotes/{note}/payments")),
        );
        self.send_payment(call, version, payment).await
    }

    async fn send_payment(
        &self,
        call: Call,
        version: &Version,
        payment: &NewPayment,
    ) -> Result<CreatedPayment, DineroError> {
        let op = call.operation;
        let body = wire::PaymentCreate {
            timestamp: &version.0,
            deposit_account_number: payment.deposit_account,
            remainder_is_fee: payment.remainder_is_fee,
            amount: payment.amount,
            amount_in_foreign_currency: payment.amount_in_invoice_currency,
            description: &payment.description,
            payment_date: payment.date.map(|d| d.format("%Y-%m-%d").to_string()),
            external_reference: payment.external_reference.as_deref(),
        };
        let call = call.json(&body);
        let created: wire::PaymentCreated = decode(op, &self.send(call).await?)?;
        Ok(CreatedPayment {
            guid: created.guid,
            invoice_version: version_from(op, created.time_stamp)?,
        })
    }

    pub async fn invoice_payments(&self, invoice: Uuid) -> Result<InvoicePayments, DineroError> {
        let call = Call::new(
            "list payments",
            Method::GET,
            "/v2/{organizationId}/invoices/{guid}/payments",
            self.org_path("v2", &format!("/invoices/{invoice}/payments")),
        );
        self.read_payments(call).await
    }

    pub async fn credit_note_payments(&self, note: Uuid) -> Result<InvoicePayments, DineroError> {
        let call = Call::new(
            "list credit note payments",
            Method::GET,
            "/v1/{organizationId}/sales/creditnotes/{guid}/payments",
            self.org_path("v1", &format!("/sales/creditnotes/{note}/payments")),
        );
        self.read_payments(call).await
    }

    async fn read_payments(&self, call: Call) -> Result<InvoicePayments, DineroError> {
        let read: wire::Payments = decode(call.operation, &self.send(call).await?)?;
        Ok(InvoicePayments {
            payments: read
                .payments
                .unwrap_or_default()
                .into_iter()
                .map(|p| Payment {
                    guid: p.guid,
                    amount: p.amount,
                    deposit_account: p.deposit_account_number,
                    external_reference: p.external_reference,
                })
                .collect(),
            paid: read.paid_amount,
            remaining: read.remaining_amount,
        })
    }

    // ----- credit notes -----

    /// A draft credit note for all of a booked invoice.
    pub async fn generate_credit_note(
        &self,
        invoice: Uuid,
        version: Option<&Version>,
    ) -> Result<Created, DineroError> {
        const OP: &str = "generate credit note";
        let call = Call::new(
            OP,
            Method::POST,
            "/v1/{organizationId}/invoices/{guid}/generate-creditnote",
            self.org_path("v1", &format!("/invoices/{invoice}/generate-creditnote")),
        )
        .json(&wire::TimestampBody {
            timestamp: version.map(|v| v.0.as_str()),
        });
        let created: wire::CreatedResponse = decode(OP, &self.send(call).await?)?;
        Ok(Created {
            guid: created.guid,
            version: version_from(OP, created.time_stamp)?,
        })
    }

    /// A draft credit note of its own lines, for a partial refund of `credited` (if given).
    pub async fn create_credit_note(
        &self,
        credited: Option<Uuid>,
        note: &NewInvoice,
    ) -> Result<Created, DineroError> {
        const OP: &str = "create credit note";
        let call = Call::new(
            OP,
            Method::POST,
            "/v1/{organizationId}/sales/creditnotes",
            self.org_path("v1", "/sales/creditnotes"),
        )
        .json(&wire::InvoiceCreate::new(note, credited));
        let created: wire::CreatedResponse = decode(OP, &self.send(call).await?)?;
        Ok(Created {
            guid: created.guid,
            version: version_from(OP, created.time_stamp)?,
        })
    }

    pub async fn get_credit_note(&self, guid: Uuid) -> Result<Option<Invoice>, DineroError> {
        const OP: &str = "get credit note";
        let call = Call::new(
            OP,
            Method::GET,
            "/v1/{organizationId}/sales/creditnotes/{guid}",
            self.org_path("v1", &format!("/sales/creditnotes/{guid}")),
        );
        match self.send(call).await {
            Ok(body) => Ok(Some(invoice_of(OP, decode(OP, &body)?, guid)?)),
            Err(DineroError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    pub async fn book_credit_note(
        &self,
        guid: Uuid,
        version: &Version,
        number: Option<i64>,
    ) -> Result<Invoice, DineroError> {
        const OP: &str = "book credit note";
        let mut call = Call::new(
            OP,
            Method::POST,
            "/v1/{organizationId}/sales/creditnotes/{guid}/book",
            self.org_path("v1", &format!("/sales/creditnotes/{guid}/book")),
        )
        .json(&wire::Book {
            timestamp: &version.0,
            number,
        });
        call.booking_number = number;
        invoice_of(OP, decode(OP, &self.send(call).await?)?, guid)
    }
}
