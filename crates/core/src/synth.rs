//! Deterministic synthetic Mailbox Details logs in varied, realistic states: the corpus
//! for benchmarks, browser tests and demos. Same seed and index, same file.

use crate::rng::Rng;
use crate::time::Timestamp;
use crate::writer::{render, TraceEntry};

const TRACES: &[(i64, &str, &str)] = &[
    (126, "ExchangeSyncServerServiceError", "T:391\nActivityId: {id}\n>Exception : Unhandled exception:\nException type: System.Net.WebException\nMessage: The remote server returned an error: (503) Server Unavailable.   at System.Net.HttpWebRequest.EndGetResponse(IAsyncResult asyncResult)"),
    (2, "UnknownIncomingEmailIntegrationError", "ActivityId: {id}\n>Error : ?Mailbox move in progress. Try again later., Cannot open mailbox.ErrorMailboxMoveInProgress0"),
    (52, "IncomingEmailServerServiceError", "ActivityId: {id}\n>Error : System.Net.WebException: The request failed with HTTP status 503: Service Unavailable.\nat System.Web.Services.Protocols.SoapHttpClientProtocol.ReadResponse(SoapClientMessage message, WebResponse response, Stream responseStream, Boolean asyncCall)\nat Microsoft.Crm.Asynchronous.EmailConnector.ExchangeIncomingEmailProviderStep.EndOperation()"),
    (2, "UnknownIncomingEmailIntegrationError", "ActivityId: {id}\n>Error : Exchange server returned UnknownIncomingEmailIntegrationError -2147220956 exception."),
    (31, "IncomingEmailServerServiceError", "T:12\nActivityId: {id}\n>Error : Email cannot be received for the mailbox because an error occurred while establishing a secure connection to the email server.\nSystem.Security.Authentication.AuthenticationException: The remote certificate is invalid according to the validation procedure."),
    (44, "OutgoingEmailMailboxError", "ActivityId: {id}\n>Error : Email cannot be sent because the email address of the mailbox requires an approval by an Office 365 administrator."),
    (45, "IncomingEmailMailboxError", "ActivityId: {id}\n>Error : System.Net.WebException: The remote server returned an error: (401) Unauthorized.\n   at Microsoft.Exchange.WebServices.Data.EwsHttpWebRequest.GetResponse()"),
    (77, "OutgoingEmailMailboxError", "ActivityId: {id}\n>Error : The operation has timed out while contacting smtp.contoso.com"),
    (90, "ExchangeSyncMailboxError", "ActivityId: {id}\n>Error : Appointments can't be synchronized because the Organizer field is not present."),
];

fn guid(rng: &mut Rng) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

/// The `index`-th log of corpus `seed`, with dates around `base`.
pub fn synthetic_log(seed: u64, index: u64, base: Timestamp) -> String {
    let mut rng = Rng::new(
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ index.wrapping_add(1).wrapping_mul(0xD1B5_4A32_D192_ED03),
    );
    let at = |offset_secs: i64| Some(Timestamp(base.0 + offset_secs).to_log_format());
    let mailbox = guid(&mut rng);
    let processing = rng.chance(5);
    let failing = rng.chance(25);
    let error_count = if failing { 1 + rng.below(10) as i64 } else { 0 };
    let disabled = failing && (error_count >= 10 || rng.chance(30));
    let pending = rng.chance(12);
    let never_tested = !pending && rng.chance(4);
    let exchange = rng.chance(70);
    let next = rng.below(1800) as i64 - 600;
    let (last_error, last_code) = if failing {
        match rng.below(3) {
            0 => (Some("Exchange server returned UnknownIncomingEmailIntegrationError -2147220956 exception.".to_string()), Some("-2147220956".to_string())),
            1 => (Some("The remote server returned an error: (503) Server Unavailable.".to_string()), Some("503".to_string())),
            _ => (Some("Email cannot be received because the credentials specified in the associated email server profile are incorrect or have insufficient permissions.".to_string()), Some("401".to_string())),
        }
    } else {
        (None, None)
    };
    let methods = if rng.chance(10) {
        "Outlook"
    } else {
        "EmailRouter"
    };
    let value = |key: &str| -> Option<String> {
        match key {
            "mailboxid" => Some(mailbox.clone()),
            "hostid" => processing.then(|| format!("CRMASYNC-{:02}", index % 8)),
            "processingstatecode" => Some(if processing { "1" } else { "0" }.to_string()),
            "processinglastattemptedon" => at(-300),
            "incomingemaildeliverymethod" | "outgoingemaildeliverymethod" => {
                Some("EmailRouter".to_string())
            }
            "actdeliverymethod" => Some(methods.to_string()),
            "enabledforincomingemail" => Some(if disabled { "False" } else { "True" }.to_string()),
            "enabledforoutgoingemail" | "enabledforact" => Some("True".to_string()),
            "noemailcount" => Some((index % 7).to_string()),
            "noactcount" => Some((index % 5).to_string()),
            "postponemailboxprocessinguntil" => at(next),
            "postponesendinguntil" => at(next - 60),
            "receivingpostponeduntil" => at(next + if index.is_multiple_of(4) { 600 } else { 0 }),
            "receivingpostponeduntilforact" => at(next + 300),
            "testemailconfigurationscheduled" => {
                Some(if pending { "True" } else { "False" }.to_string())
            }
            "testemailconfigurationretrycount" => Some(if pending {
                (index % 3).to_string()
            } else {
                "0".to_string()
            }),
            "testmailboxaccesscompletedon" => {
                if never_tested || pending {
                    None
                } else {
                    at(-86_400 * 3)
                }
            }
            "postponetestemailconfigurationuntil" => {
                if pending {
                    at(next + 120)
                } else {
                    at(-86_400 * 3 + 300)
                }
            }
            "lastsuccessfulsynccompletedon" => {
                if never_tested {
                    None
                } else {
                    at(if failing { -3600 * error_count } else { -300 })
                }
            }
            "lastsyncerror" => last_error.clone(),
            "lastsyncerrorcode" => last_code.clone(),
            "lastsyncerrorcount" => Some(error_count.to_string()),
            "lastsyncerroroccurredon" => at(if failing { -200 } else { -86_400 * 20 }),
            "itemsprocessedforlastsync" => Some((index % 4).to_string()),
            "itemsfailedforlastsync" => Some("0".to_string()),
            "servertype" => Some(if exchange { "0" } else { "4" }.to_string()),
            "useautodiscover" => Some(if exchange { "True" } else { "False" }.to_string()),
            "maxconcurrentconnections" => Some("10".to_string()),
            "minpollingintervalinminutes" => Some("0".to_string()),
            "incomingauthenticationprotocol" | "outgoingauthenticationprotocol" => {
                Some("AutoDetect".to_string())
            }
            "incomingcredentialretrieval" | "outgoingcredentialretrieval" => {
                Some(if exchange { "S2S" } else { "1" }.to_string())
            }
            "incominguseimpersonation" | "outgoinguseimpersonation" => Some("False".to_string()),
            "incomingusessl" | "outgoingusessl" => Some("True".to_string()),
            "incomingportnumber" => Some(if exchange { "443" } else { "993" }.to_string()),
            "outgoingportnumber" => Some(if exchange { "443" } else { "465" }.to_string()),
            _ => None,
        }
    };
    let n_traces = if failing {
        3 + rng.below(8)
    } else {
        rng.below(3)
    };
    let traces: Vec<TraceEntry> = (0..n_traces)
        .map(|_| {
            let (code, ty, details) = TRACES[rng.below(TRACES.len() as u64) as usize];
            TraceEntry {
                tracecode: code,
                error_type: ty.to_string(),
                details: details.replace("{id}", &guid(&mut rng)),
            }
        })
        .collect();
    render(&value, &traces)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{analyze, Status};

    #[test]
    fn synthetic_logs_read_back_complete_and_varied() {
        let base = Timestamp(1_700_000_000);
        let reports: Vec<_> = (0..300)
            .map(|i| analyze("s", synthetic_log(7, i, base).as_bytes(), Some(base)))
            .collect();
        assert!(
            reports.iter().all(|r| r.status == Status::Ok),
            "{:?}",
            reports
                .iter()
                .find(|r| r.status != Status::Ok)
                .map(|r| &r.findings)
        );
        assert!(reports.iter().any(|r| r.is_failing()));
        assert!(reports.iter().any(|r| r.is_disabled()));
        assert!(reports.iter().any(|r| r.is_pending_test()));
        assert!(reports.iter().any(|r| r.processing_now));
        assert!(reports
            .iter()
            .any(|r| !r.is_failing() && r.traces.is_empty()));
        assert_eq!(synthetic_log(7, 3, base), synthetic_log(7, 3, base));
        assert_ne!(synthetic_log(7, 3, base), synthetic_log(7, 4, base));
    }

    /// Every error the generator writes is in the knowledge base: no generated log
    /// shows an "Unrecognized trace" (or an unknown last sync error).
    #[test]
    fn every_error_the_generator_writes_is_known() {
        use crate::classify::{classify, Evidence};
        for (code, ty, details) in TRACES {
            let c = classify(&Evidence {
                error_type: Some(ty),
                text: details,
                http_status: crate::extract::extract(details).http_status,
                error_code: crate::extract::error_code(details),
            });
            assert!(c.rule.is_some(), "trace {code} {ty} is not known");
        }
        let base = Timestamp(1_700_000_000);
        for (seed, i) in [1u64, 7]
            .into_iter()
            .flat_map(|s| (0..1000).map(move |i| (s, i)))
        {
            let r = analyze("s", synthetic_log(seed, i, base).as_bytes(), Some(base));
            for t in &r.traces {
                assert!(
                    t.rule.is_some(),
                    "log {seed}/{i}: {:?} {:?}",
                    t.error_type,
                    t.message
                );
            }
            assert!(
                !r.findings
                    .iter()
                    .any(|f| f.code.starts_with("trace_unrecognized.")),
                "log {seed}/{i}"
            );
            if let Some(c) = &r.last_sync.classification {
                assert!(c.rule.is_some(), "log {seed}/{i}: {:?}", r.last_sync.error);
            }
            for f in &r.findings {
                assert!(
                    !f.message.contains("..") && !f.message.contains("(s)"),
                    "log {seed}/{i}: {}",
                    f.message
                );
            }
        }
    }
}
