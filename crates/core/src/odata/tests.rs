use super::*;
use crate::model::{Column, Kind, Table};
use crate::time::Timestamp;

pub(crate) static MAILBOX: Table = Table {
    logical: "mailbox",
    entity_set: "mailboxes",
    key: "mailboxid",
    primary_name: "name",
    columns: &[
        Column::new("mailboxid", Kind::Guid),
        Column::new("name", Kind::Text),
        Column::new("emailaddress", Kind::Text),
        Column::new("emailserverprofile", Kind::Lookup(&["emailserverprofile"])),
        Column::new("emailrouteraccessapproval", Kind::Choice),
        Column::new("enabledforincomingemail", Kind::Bool),
        Column::new("lastsyncerrorcount", Kind::Int),
        Column::new("averagetotalduration", Kind::Decimal),
        Column::new("lastsyncerroroccurredon", Kind::DateTime),
        Column::new("lastsyncerror", Kind::Text)
            .not_filterable()
            .not_sortable(),
        Column::new("password", Kind::Text).write_only(),
    ],
};

const G: &str = "9fb6600b-0965-e811-a97f-000d4a161089";

fn col(name: &str) -> &'static Column {
    MAILBOX.column(name).unwrap()
}

fn f(text: &str) -> Filter {
    parse_filter(text, &MAILBOX).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn err(text: &str) -> String {
    parse_filter(text, &MAILBOX).unwrap_err().to_string()
}

fn cmp(name: &str, op: CmpOp, value: Value) -> Filter {
    Filter::Compare {
        column: col(name),
        op,
        value,
    }
}

fn name_eq(s: &str) -> Filter {
    cmp("name", CmpOp::Eq, Value::Text(s.into()))
}

#[test]
fn every_comparison_operator() {
    for (word, op) in [
        ("eq", CmpOp::Eq),
        ("ne", CmpOp::Ne),
        ("gt", CmpOp::Gt),
        ("ge", CmpOp::Ge),
        ("lt", CmpOp::Lt),
        ("le", CmpOp::Le),
    ] {
        assert_eq!(
            f(&format!("lastsyncerrorcount {word} 3")),
            cmp("lastsyncerrorcount", op, Value::Int(3))
        );
    }
    // A literal on the left swaps the operator.
    assert_eq!(
        f("3 lt lastsyncerrorcount"),
        cmp("lastsyncerrorcount", CmpOp::Gt, Value::Int(3))
    );
    assert_eq!(
        f("3 ge lastsyncerrorcount"),
        cmp("lastsyncerrorcount", CmpOp::Le, Value::Int(3))
    );
    assert_eq!(f("'a' eq name"), name_eq("a"));
}

#[test]
fn precedence_and_parentheses() {
    let (a, b, c) = (name_eq("a"), name_eq("b"), name_eq("c"));
    assert_eq!(
        f("name eq 'a' or name eq 'b' and name eq 'c'"),
        Filter::Or(vec![a.clone(), Filter::And(vec![b.clone(), c.clone()])])
    );
    assert_eq!(
        f("(name eq 'a' or name eq 'b') and name eq 'c'"),
        Filter::And(vec![Filter::Or(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(
        f("name eq 'a' and name eq 'b' and name eq 'c'"),
        Filter::And(vec![a.clone(), b.clone(), c.clone()])
    );
    assert_eq!(
        f("not (name eq 'a') and name eq 'b'"),
        Filter::And(vec![Filter::Not(Box::new(a.clone())), b.clone()])
    );
    assert_eq!(f("((((name eq 'a'))))"), a);
    assert_eq!(f("true"), Filter::And(vec![]));
    assert_eq!(
        f("false or name eq 'a'"),
        Filter::Or(vec![Filter::Or(vec![]), a.clone()])
    );
    assert_eq!(f("not false"), Filter::Not(Box::new(Filter::Or(vec![]))));
    assert_eq!(f("not not enabledforincomingemail"), {
        let e = cmp("enabledforincomingemail", CmpOp::Eq, Value::Bool(true));
        Filter::Not(Box::new(Filter::Not(Box::new(e))))
    });
    // `not` binds tighter than `eq`, as in OData: this is `(not name) eq 'a'`.
    assert_eq!(
        err("not name eq 'a'"),
        "A unary operator with an incompatible type was detected. \
         Found operand type 'Edm.String' for operator kind 'Not'."
    );
}

#[test]
fn text_functions() {
    let t = |func, needle: &str| Filter::Text {
        func,
        column: col("name"),
        needle: needle.into(),
    };
    assert_eq!(f("contains(name,'sales')"), t(TextFn::Contains, "sales"));
    assert_eq!(
        f("startswith( name , 'O''Brien' )"),
        t(TextFn::StartsWith, "O'Brien")
    );
    assert_eq!(f("endswith(name,'%_\\')"), t(TextFn::EndsWith, "%_\\"));
    assert_eq!(
        f("not contains(name,'x')"),
        Filter::Not(Box::new(t(TextFn::Contains, "x")))
    );
    assert_eq!(f("contains(name,'x') eq true"), t(TextFn::Contains, "x"));
    assert_eq!(
        f("contains(name,'x') eq false"),
        Filter::Not(Box::new(t(TextFn::Contains, "x")))
    );
    let sig = "No function signature for the function with name 'contains' matches the \
               specified arguments. The function signatures considered are: \
               contains(Edm.String Nullable=true, Edm.String Nullable=true).";
    assert_eq!(err("contains(lastsyncerrorcount,'1')"), sig);
    assert_eq!(err("contains(name,1)"), sig);
    assert_eq!(err("contains(name)"), sig);
    assert_eq!(err("contains(name,'a','b')"), sig);
    assert_eq!(err("contains()"), sig);
    assert_eq!(
        err("substringof('a',name)"),
        "An unknown function with name 'substringof' was found. This may also be a function \
         import or a key lookup on a navigation property, which is not allowed."
    );
    assert!(err("contains(foo,'a')").starts_with("Could not find a property named 'foo'"));
    assert!(
        err("Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['a'])")
            .starts_with("An unknown function with name 'Microsoft.Dynamics.CRM.In' was found.")
    );
    assert!(err("name.first eq 'a'").starts_with("Could not find a property named 'name.first'"));
}

#[test]
fn literals_fit_column_kinds() {
    let g = Guid::parse(G).unwrap();
    assert_eq!(
        f(&format!("mailboxid eq {G}")),
        cmp("mailboxid", CmpOp::Eq, Value::Guid(g))
    );
    assert_eq!(
        f(&format!(
            "_emailserverprofile_value eq {}",
            G.to_uppercase()
        )),
        cmp("emailserverprofile", CmpOp::Eq, Value::Guid(g))
    );
    assert_eq!(
        f("_emailserverprofile_value eq null"),
        cmp("emailserverprofile", CmpOp::Eq, Value::Null)
    );
    assert_eq!(f("name ne null"), cmp("name", CmpOp::Ne, Value::Null));
    assert_eq!(
        f("emailrouteraccessapproval eq 2"),
        cmp("emailrouteraccessapproval", CmpOp::Eq, Value::Int(2))
    );
    assert_eq!(
        f("lastsyncerrorcount gt -1"),
        cmp("lastsyncerrorcount", CmpOp::Gt, Value::Int(-1))
    );
    assert_eq!(
        f("averagetotalduration ge 2"),
        cmp("averagetotalduration", CmpOp::Ge, Value::Decimal(2.0))
    );
    assert_eq!(
        f("averagetotalduration lt -2.5"),
        cmp("averagetotalduration", CmpOp::Lt, Value::Decimal(-2.5))
    );
    assert_eq!(
        f("enabledforincomingemail eq false"),
        cmp("enabledforincomingemail", CmpOp::Eq, Value::Bool(false))
    );
    assert_eq!(
        f("enabledforincomingemail"),
        cmp("enabledforincomingemail", CmpOp::Eq, Value::Bool(true))
    );
    let at = Timestamp::from_civil(2024, 5, 6, 10, 0, 0).unwrap();
    assert_eq!(
        f("lastsyncerroroccurredon ge 2024-05-06T10:00:00Z"),
        cmp("lastsyncerroroccurredon", CmpOp::Ge, Value::DateTime(at))
    );
    assert_eq!(
        f("lastsyncerroroccurredon lt 2024-05-06T12:00:00+02:00"),
        cmp("lastsyncerroroccurredon", CmpOp::Lt, Value::DateTime(at))
    );
    assert_eq!(f("name eq 'it''s'"), name_eq("it's"));
    assert_eq!(f("name eq ''''"), name_eq("'"));
    assert_eq!(f("name eq 'x'' or 1=1 --'"), name_eq("x' or 1=1 --"));
}

#[test]
fn mismatched_literals() {
    assert_eq!(
        err(&format!("_emailserverprofile_value eq '{G}'")),
        "A binary operator with incompatible types was detected. \
         Found operand types 'Edm.Guid' and 'Edm.String' for operator kind 'Equal'."
    );
    assert_eq!(
        err("name gt 5"),
        "A binary operator with incompatible types was detected. \
         Found operand types 'Edm.String' and 'Edm.Int32' for operator kind 'GreaterThan'."
    );
    assert!(err("emailrouteraccessapproval eq 'Approved'").contains("'Edm.Int32' and 'Edm.String'"));
    assert!(err("emailrouteraccessapproval eq 1.5").contains("'Edm.Int32' and 'Edm.Decimal'"));
    assert!(err("enabledforincomingemail eq 1").contains("'Edm.Boolean' and 'Edm.Int32'"));
    assert!(err("lastsyncerroroccurredon gt '2024-05-06'")
        .contains("'Edm.DateTimeOffset' and 'Edm.String'"));
    assert!(err("mailboxid eq 12").contains("'Edm.Guid' and 'Edm.Int32'"));
    // OData promotes a wider literal rather than refusing it.
    assert_eq!(
        f("lastsyncerrorcount eq 9999999999"),
        cmp("lastsyncerrorcount", CmpOp::Eq, Value::Int(9_999_999_999))
    );
    assert_eq!(
        err("name gt null"),
        "The property 'name' can only be compared with null using 'eq' or 'ne'."
    );
    assert!(err("name eq emailaddress").contains("Comparing two properties"));
    assert!(err("1 eq 1").contains("two literals"));
    assert!(err("enabledforincomingemail eq (name eq 'a')").contains("Comparing two expressions"));
    assert!(err("(name eq 'a') eq 5").contains("'Edm.Boolean' and 'Edm.Int32'"));
    assert_eq!(
        err("name"),
        "The $filter expression must evaluate to a single boolean value."
    );
    assert_eq!(
        err("name eq 'a' and emailaddress"),
        "A binary operator with incompatible types was detected. \
         Found operand types 'Edm.Boolean' and 'Edm.String' for operator kind 'And'."
    );
    assert!(
        err("5 or name eq 'a'").contains("'Edm.Int32' and 'Edm.Boolean' for operator kind 'Or'")
    );
}

#[test]
fn unknown_and_restricted_columns() {
    assert_eq!(
        err("foo eq 1"),
        "Could not find a property named 'foo' on type 'Microsoft.Dynamics.CRM.mailbox'."
    );
    assert_eq!(
        err(&format!("emailserverprofile eq {G}")),
        "Could not find a property named 'emailserverprofile' on type \
         'Microsoft.Dynamics.CRM.mailbox'. Use '_emailserverprofile_value' for the lookup's id."
    );
    assert!(err("_name_value eq 'x'").contains("'_name_value'"));
    // Names are case-sensitive, as Dataverse's logical names are.
    assert!(err("Name eq 'x'").contains("'Name'"));
    assert_eq!(
        err("password eq 'secret'"),
        "The property 'password' cannot be used in a $filter query option."
    );
    assert!(err("contains(password,'a')").contains("cannot be used in a $filter"));
    assert!(err("lastsyncerror eq 'x'").contains("cannot be used in a $filter"));
}

#[test]
fn syntax_errors() {
    assert_eq!(err(""), "Expression expected at position 0 in ''.");
    assert_eq!(
        err("name eq"),
        "Expression expected at position 7 in 'name eq'."
    );
    assert_eq!(
        err("name eq 'a' and"),
        "Expression expected at position 15 in 'name eq 'a' and'."
    );
    assert_eq!(
        err("(name eq 'a'"),
        "')' or operator expected at position 12 in '(name eq 'a''."
    );
    assert_eq!(
        err("name eq 'a')"),
        "')' or operator expected at position 11 in 'name eq 'a')'."
    );
    assert_eq!(
        err("name eq 'a' name"),
        "')' or operator expected at position 12 in 'name eq 'a' name'."
    );
    assert_eq!(
        err("eq 'a'"),
        "Expression expected at position 0 in 'eq 'a''."
    );
    assert_eq!(
        err("contains(name 'a')"),
        "')' or ',' expected at position 14 in 'contains(name 'a')'."
    );
    assert_eq!(
        err("name eq 'a' AND name eq 'b'"),
        "')' or operator expected at position 12 in 'name eq 'a' AND name eq 'b''."
    );
    assert!(err("name eq 'abc").starts_with("Unterminated string literal at position 8"));
    assert!(err("name/x eq 'a'").contains("character '/' is not valid at position 4"));
    assert_eq!(
        err("name ^ 3"),
        "Syntax error: character '^' is not valid at position 5 in 'name ^ 3'."
    );
    assert_eq!(
        err("é eq 1"),
        "Syntax error: character 'é' is not valid at position 0 in 'é eq 1'."
    );
    assert!(err("name eq - 1").contains("character '-' is not valid at position 8"));
    assert!(err("name eq 'a' and name eq 'b' ; drop")
        .contains("character ';' is not valid at position 28"));
    // Syntax is checked before properties, as in OData.
    assert!(err("foo eq 'a' ^").contains("character '^' is not valid at position 11"));
    assert!(err("()").starts_with("Expression expected at position 1"));
}

#[test]
fn depth_and_size_limits() {
    let nested = |n: usize| format!("{}name eq 'a'{}", "(".repeat(n), ")".repeat(n));
    f(&nested(MAX_DEPTH));
    assert_eq!(
        err(&nested(MAX_DEPTH + 1)),
        "Recursion depth exceeded allowed limit."
    );
    assert_eq!(err(&nested(500)), "Recursion depth exceeded allowed limit.");
    // Hostile sizes stop at the token limit before any recursion.
    assert!(err(&nested(1_000_000)).contains("too long"));
    f(&format!(
        "{}enabledforincomingemail",
        "not ".repeat(MAX_DEPTH)
    ));
    assert_eq!(
        err(&format!(
            "{}enabledforincomingemail",
            "not ".repeat(MAX_DEPTH + 1)
        )),
        "Recursion depth exceeded allowed limit."
    );
    assert_eq!(
        err(&"not ".repeat(1000)),
        "Recursion depth exceeded allowed limit."
    );
    assert!(err(&"not ".repeat(1_000_000)).contains("too long"));
    let deep_calls = format!("{}name{}", "contains(".repeat(500), ")".repeat(500));
    assert_eq!(err(&deep_calls), "Recursion depth exceeded allowed limit.");
    let chained = format!("name{}", " eq 'a'".repeat(900));
    assert_eq!(err(&chained), "Recursion depth exceeded allowed limit.");
    // A long flat chain is fine up to the size limit, and stays flat.
    let chain = vec!["name eq 'a'"; 400].join(" or ");
    match f(&chain) {
        Filter::Or(terms) => assert_eq!(terms.len(), 400),
        other => panic!("{other:?}"),
    }
    let long = vec!["name eq 'a'"; MAX_TOKENS].join(" or ");
    assert!(err(&long).contains("too long"));
}

#[test]
fn query_options() {
    let q = parse_query(
        &MAILBOX,
        "$select=name,_emailserverprofile_value&$filter=name%20eq%20'a+b'&$orderby=name desc,lastsyncerrorcount&$top=10&$count=true&api-version=1",
    )
    .unwrap();
    assert_eq!(
        q.select,
        vec![col("name"), col("emailserverprofile"), col("mailboxid")]
    );
    assert_eq!(q.filter, Some(name_eq("a b")));
    let keys: Vec<(&str, bool)> = q
        .order
        .iter()
        .map(|k| (k.column.name, k.descending))
        .collect();
    assert_eq!(
        keys,
        vec![
            ("name", true),
            ("lastsyncerrorcount", false),
            ("mailboxid", false)
        ]
    );
    assert_eq!((q.top, q.count, q.after.clone()), (Some(10), true, None));

    let all = parse_query(&MAILBOX, "").unwrap();
    assert!(!all.select.contains(&col("password")));
    assert_eq!(all.select.len(), MAILBOX.columns.len() - 1);
    assert_eq!(
        all.order,
        vec![OrderKey {
            column: col("mailboxid"),
            descending: false
        }]
    );
    assert_eq!((all.filter, all.top, all.count), (None, None, false));

    // Sorting by the key ends the order: later keys could never matter.
    let q = parse_query(&MAILBOX, "$orderby=mailboxid desc,name").unwrap();
    assert_eq!(
        q.order,
        vec![OrderKey {
            column: col("mailboxid"),
            descending: true
        }]
    );

    let e = |raw: &str| parse_query(&MAILBOX, raw).unwrap_err().to_string();
    assert_eq!(
        e("$select=foo"),
        "Could not find a property named 'foo' on type 'Microsoft.Dynamics.CRM.mailbox'."
    );
    assert_eq!(
        e("$select=password"),
        "The property 'password' is write-only and cannot be selected."
    );
    assert!(e("$select=name,,emailaddress").contains("empty property name"));
    assert_eq!(
        e("$orderby=foo asc"),
        "Could not find a property named 'foo' on type 'Microsoft.Dynamics.CRM.mailbox'."
    );
    assert!(e("$orderby=name up").contains("'name up' is not valid"));
    assert!(e("$orderby=name asc desc").contains("is not valid"));
    assert!(e("$orderby=name,").contains("'' is not valid"));
    assert_eq!(
        e("$orderby=lastsyncerror"),
        "The property 'lastsyncerror' cannot be used in an $orderby query option."
    );
    assert_eq!(
        e("$orderby=name,name desc"),
        "Duplicate property named 'name' is not supported in '$orderby'."
    );
    assert_eq!(e("$top=abc"), "Invalid value 'abc' for $top query option found. The $top query option requires a non-negative integer value.");
    assert!(e("$top=-1").contains("Invalid value '-1'"));
    assert!(e("$top=0").contains("between 1 and 5000"));
    assert!(e("$top=5001").contains("between 1 and 5000"));
    assert_eq!(e("$count=yes"), "'yes' is not a valid count option.");
    assert_eq!(
        e("$expand=owner"),
        "Could not find a navigation property named 'owner' on type 'Microsoft.Dynamics.CRM.mailbox'."
    );
    assert_eq!(
        e("$skip=10"),
        "The query parameter '$skip' is not supported."
    );
    assert_eq!(
        e("$top=1&$top=2"),
        "Query option '$top' was specified more than once, but it must be specified at most once."
    );
    assert!(e("$filter=name eq %zz").contains("invalid percent-encoding"));
    assert!(e("$filter=%ff").contains("not valid UTF-8"));
    assert!(e("$filter=foo eq 1").contains("'foo'"));
    assert!(e("$skiptoken=abc").contains("$skiptoken"));
}

#[test]
fn percent_decoding() {
    assert_eq!(percent_decode("a%20b+c%27%C3%A9").unwrap(), "a b c'é");
    assert!(percent_decode("%+F").is_err());
    assert!(percent_decode("%4").is_err());
}

#[test]
fn prefer_header() {
    assert_eq!(
        parse_prefer("odata.maxpagesize=50").unwrap().max_page_size,
        Some(50)
    );
    let p = parse_prefer(
        "odata.include-annotations=\"*\", odata.maxpagesize=\"25\", return=representation",
    )
    .unwrap();
    assert_eq!(
        p,
        Prefer {
            max_page_size: Some(25),
            include_annotations: Some("*".into()),
            return_representation: true,
        }
    );
    assert_eq!(
        parse_prefer("odata.maxpagesize=100000")
            .unwrap()
            .max_page_size,
        Some(MAX_PAGE_SIZE)
    );
    assert_eq!(parse_prefer("").unwrap(), Prefer::default());
    // A comma list inside the quotes is one value.
    let p = parse_prefer(
        "odata.include-annotations=\"Microsoft.Dynamics.CRM.totalrecordcount,OData.Community.Display.V1.FormattedValue\",odata.maxpagesize=5",
    )
    .unwrap();
    assert_eq!(
        p.include_annotations.as_deref(),
        Some("Microsoft.Dynamics.CRM.totalrecordcount,OData.Community.Display.V1.FormattedValue")
    );
    assert_eq!(p.max_page_size, Some(5));
    assert_eq!(
        parse_prefer("respond-async; wait=10").unwrap(),
        Prefer::default()
    );
    for bad in [
        "odata.maxpagesize=0",
        "odata.maxpagesize=-3",
        "odata.maxpagesize=x",
        "odata.maxpagesize",
    ] {
        assert!(
            parse_prefer(bad)
                .unwrap_err()
                .to_string()
                .contains("positive integer"),
            "{bad}"
        );
    }
}

#[test]
fn skiptoken_round_trip() {
    let q = parse_query(&MAILBOX, "$orderby=name desc,lastsyncerroroccurredon,averagetotalduration,enabledforincomingemail,_emailserverprofile_value").unwrap();
    let g = Guid::parse(G).unwrap();
    let last = vec![
        Value::Text("Zoë \"quoted\" ''".into()),
        Value::DateTime(Timestamp::from_civil(2024, 5, 6, 10, 0, 0).unwrap()),
        Value::Decimal(-1.25),
        Value::Bool(true),
        Value::Null,
        Value::Guid(g),
    ];
    let token = q.next_skiptoken(&last);
    assert!(
        token
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
        "{token}"
    );
    let raw = format!("$orderby=name desc,lastsyncerroroccurredon,averagetotalduration,enabledforincomingemail,_emailserverprofile_value&$skiptoken={token}");
    assert_eq!(
        parse_query(&MAILBOX, &raw).unwrap().after,
        Some(last.clone())
    );

    // The token belongs to its order: another sort, or a tampered value, is refused.
    let other = parse_query(&MAILBOX, "$orderby=name").unwrap();
    assert!(decode_skiptoken(&token, &other.order).is_err());
    let order = &q.order;
    let forge = |v: serde_json::Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let sig: Vec<String> = vec![
        "name desc".into(),
        "lastsyncerroroccurredon".into(),
        "averagetotalduration".into(),
        "enabledforincomingemail".into(),
        "_emailserverprofile_value".into(),
        "mailboxid".into(),
    ];
    let ok = serde_json::json!({"o": sig, "v": ["a", "2024-05-06T10:00:00Z", 1, false, null, G]});
    assert!(decode_skiptoken(&forge(ok), order).is_ok());
    for v in [
        serde_json::json!(["a", "2024-05-06T10:00:00Z", 1, false, null, null]), // null key
        serde_json::json!([1, "2024-05-06T10:00:00Z", 1, false, null, G]),
        serde_json::json!(["a", "yesterday", 1, false, null, G]),
        serde_json::json!(["a", "2024-05-06T10:00:00Z", 1, "no", null, G]),
        serde_json::json!(["a", "2024-05-06T10:00:00Z", 1, false, "x", G]),
        serde_json::json!(["a", "2024-05-06T10:00:00Z", 1, false, null]),
    ] {
        let t = forge(serde_json::json!({"o": sig, "v": v}));
        assert!(decode_skiptoken(&t, order).is_err(), "{v}");
    }
    assert!(decode_skiptoken("!!!", order).is_err());
    assert!(decode_skiptoken(&"A".repeat(100_000), order).is_err());
}

#[test]
fn error_json_shape() {
    let e = parse_filter("foo eq 1", &MAILBOX).unwrap_err();
    assert_eq!(
        e.to_json(),
        serde_json::json!({"error": {"code": "0x80060888", "message": e.message()}})
    );
}

mod no_panic {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_filters(text in "\\PC{0,200}") {
            let _ = parse_filter(&text, &MAILBOX);
        }

        /// Strings made of the filter's own vocabulary reach much deeper than random text.
        #[test]
        fn vocabulary_filters(words in proptest::collection::vec(prop_oneof![
            Just("("), Just(")"), Just(","), Just("not"), Just("and"), Just("or"), Just("eq"),
            Just("gt"), Just("null"), Just("true"), Just("name"), Just("'x'"), Just("'"), Just("-"),
            Just("contains"), Just("5"), Just("-2.5"), Just("2024-05-06T10:00:00Z"), Just("2024-05-06"),
            Just(G), Just("_emailserverprofile_value"), Just("enabledforincomingemail"),
            Just("lastsyncerrorcount"), Just("averagetotalduration"), Just("foo"),
        ], 0..40)) {
            let _ = parse_filter(&words.join(" "), &MAILBOX);
        }

        #[test]
        fn arbitrary_queries(text in "\\PC{0,200}") {
            let _ = parse_query(&MAILBOX, &text);
            let _ = parse_prefer(&text);
        }
    }
}

#[test]
fn the_model_tables_parse_and_hide_hidden_columns() {
    for t in crate::model::TABLES {
        let q = parse_query(t, "$select=*").unwrap_or_else(|e| panic!("{}: {e}", t.logical));
        assert!(q.select.iter().all(|c| c.readable()), "{}", t.logical);
        assert_eq!(q.order.last().map(|k| k.column.name), Some(t.key));
    }
    let users = &crate::model::SYSTEMUSER;
    let unknown = "Could not find a property named 'passwordhash' on type \
                   'Microsoft.Dynamics.CRM.systemuser'.";
    for raw in [
        "$select=passwordhash",
        "$filter=passwordhash eq 'x'",
        "$orderby=passwordhash",
    ] {
        assert_eq!(
            parse_query(users, raw).unwrap_err().message(),
            unknown,
            "{raw}"
        );
    }
    let q = parse_query(users, "$filter=_defaultmailbox_value eq null").unwrap();
    assert!(q.filter.is_some());
}
