//! The analyzer never panics, on any bytes: arbitrary input, and real logs cut or
//! corrupted at arbitrary places (which reach far deeper into the parser).

use mailsync_core::{analyze, Status, Timestamp};
use proptest::prelude::*;

const HEALTHY: &[u8] = include_bytes!("fixtures/healthy.log");
const FAILING: &[u8] = include_bytes!("fixtures/failing.log");

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let r = analyze("x", &bytes, Some(Timestamp(1_700_000_000)));
        prop_assert!(r.status == Status::Error || r.error.is_none());
        serde_json::to_string(&r).unwrap();
    }

    #[test]
    fn arbitrary_text(text in "\\PC{0,2000}") {
        analyze("x", text.as_bytes(), None);
    }

    #[test]
    fn cut_logs(cut in 0usize..FAILING.len(), which in any::<bool>()) {
        let src = if which { HEALTHY } else { FAILING };
        let cut = cut.min(src.len());
        let r = analyze("x", &src[..cut], Some(Timestamp(0)));
        // A cut inside the trace entries leaves a complete-looking file; before them it must show.
        let traces_at = src.windows(8).position(|w| w == b"Recent T").unwrap();
        if cut > 40 && cut < traces_at {
            prop_assert_eq!(r.status, Status::Partial);
        }
    }

    #[test]
    fn corrupted_logs(edits in proptest::collection::vec((0usize..3500, any::<u8>()), 1..40)) {
        let mut bytes = HEALTHY.to_vec();
        for (at, b) in edits {
            let at = at % bytes.len();
            bytes[at] = b;
        }
        analyze("x", &bytes, Some(Timestamp(i64::MAX / 4)));
        analyze("x", &bytes, Some(Timestamp(i64::MIN / 4)));
    }

    #[test]
    fn line_soup(lines in proptest::collection::vec(prop_oneof![
        Just("tracecode : 5".to_string()),
        Just("errordetails : T:99999999999999999999".to_string()),
        Just("errortypedisplay:".to_string()),
        Just(">Error : (999) Exception type: Message:".to_string()),
        Just("Recent Trace Log details".to_string()),
        Just("postponemailboxprocessinguntil : 12/31/9999 11:59:59 PM".to_string()),
        Just("lastsyncerrorcount : 99999999999999999999999".to_string()),
        Just("processingstatecode : 1".to_string()),
        Just("testemailconfigurationscheduled : True".to_string()),
        "[a-z]{1,12} ?: ?[ -~]{0,30}",
    ], 0..60)) {
        analyze("x", lines.join("\n").as_bytes(), Some(Timestamp(1_700_000_000)));
    }
}
