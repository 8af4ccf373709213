use super::*;
use mailsync_core::model::Table;
use mailsync_core::odata::parse_query_pairs;
use rusqlite::{params_from_iter, Connection};

static MAILBOX: Table = Table {
    logical: "mailbox",
    entity_set: "mailboxes",
    key: "mailboxid",
    primary_name: "name",
    columns: &[
        Column::new("mailboxid", Kind::Guid),
        Column::new("name", Kind::Text),
        Column::new("emailserverprofile", Kind::Lookup(&["emailserverprofile"])),
        Column::new("emailrouteraccessapproval", Kind::Choice),
        Column::new("enabledforincomingemail", Kind::Bool),
        Column::new("averagetotalduration", Kind::Decimal),
        Column::new("lastsyncerroroccurredon", Kind::DateTime),
        Column::new("password", Kind::Text).write_only(),
    ],
};

const G: &str = "9fb6600b-0965-e811-a97f-000d4a161089";

/// Options as `$a=..&$b=..`, already decoded (so `+` and `%` stay themselves).
fn q(raw: &str) -> Query {
    let pairs = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")));
    parse_query_pairs(&MAILBOX, pairs).unwrap_or_else(|e| panic!("{raw}: {e}"))
}

fn text(s: &str) -> SqlParam {
    SqlParam::Text(s.into())
}

#[test]
fn representative_queries() {
    let p = page(&q(""), 50);
    assert_eq!(p.sql, " ORDER BY \"mailboxid\" ASC LIMIT ?1");
    assert_eq!((p.params, p.page_size), (vec![SqlParam::Int(51)], Some(50)));

    let p = page(
        &q(&format!(
            "$filter=emailrouteraccessapproval eq 2 and (_emailserverprofile_value eq {} or startswith(name,'Sales')) and enabledforincomingemail eq false&$orderby=name desc&$top=10",
            G.to_uppercase()
        )),
        50,
    );
    assert_eq!(
        p.sql,
        " WHERE ((\"emailrouteraccessapproval\" = ?1) AND ((\"emailserverprofile\" = ?2) OR \
         (\"name\" LIKE ?3 ESCAPE '\\')) AND (\"enabledforincomingemail\" = ?4)) \
         ORDER BY \"name\" COLLATE NOCASE DESC, \"mailboxid\" ASC LIMIT ?5"
    );
    assert_eq!(
        p.params,
        vec![
            SqlParam::Int(2),
            text(G),
            text("Sales%"),
            SqlParam::Int(0),
            SqlParam::Int(10)
        ]
    );
    assert_eq!(p.page_size, None);

    let p = page(
        &q("$filter=not (name eq 'a') and lastsyncerroroccurredon ge 2024-05-06T12:00:00+02:00 and averagetotalduration lt 1 and name ne null and _emailserverprofile_value eq null"),
        5000,
    );
    assert_eq!(
        p.sql,
        " WHERE ((NOT IFNULL((\"name\" = ?1 COLLATE NOCASE), 0)) AND (\"lastsyncerroroccurredon\" >= ?2) \
         AND (\"averagetotalduration\" < ?3) AND (\"name\" IS NOT NULL) AND (\"emailserverprofile\" IS NULL)) \
         ORDER BY \"mailboxid\" ASC LIMIT ?4"
    );
    assert_eq!(
        p.params,
        vec![
            text("a"),
            text("2024-05-06T10:00:00Z"),
            SqlParam::Real(1.0),
            SqlParam::Int(5001)
        ]
    );

    let (sql, params) = count(&q("$filter=contains(name,'50%_off\\')"));
    assert_eq!(sql, " WHERE (\"name\" LIKE ?1 ESCAPE '\\')");
    assert_eq!(params, vec![text("%50\\%\\_off\\\\%")]);
    assert_eq!(count(&q("")), (String::new(), vec![]));

    let e = q("$filter=endswith(name,'x')");
    assert_eq!(page(&e, 1).params[0], text("%x"));
}

#[test]
fn select_list_adds_key_and_order_columns() {
    assert_eq!(
        select_list(&q("$select=name&$orderby=lastsyncerroroccurredon desc")),
        "\"name\", \"mailboxid\", \"lastsyncerroroccurredon\""
    );
    let all = select_list(&q(""));
    assert!(!all.contains("password"), "{all}");
    assert_eq!(quote("we\"ird"), "\"we\"\"ird\"");
}

#[test]
fn injection_attempts_stay_one_parameter() {
    for (filter, want) in [
        ("name eq 'x'' or 1=1 --'", "x' or 1=1 --"),
        (
            "name eq '''; DROP TABLE mailbox; --'",
            "'; DROP TABLE mailbox; --",
        ),
        ("name eq '\" OR \"\"=\"'", "\" OR \"\"=\""),
    ] {
        let p = page(&q(&format!("$filter={filter}")), 10);
        assert_eq!(
            p.sql,
            " WHERE (\"name\" = ?1 COLLATE NOCASE) ORDER BY \"mailboxid\" ASC LIMIT ?2"
        );
        assert_eq!(p.params[0], text(want));
    }
    // And they match nothing but that text.
    let db = db();
    assert!(rows(&db, &q("$filter=name eq 'x'' or 1=1 --'"), 1000)
        .0
        .is_empty());
}

#[test]
fn cursor_sql_and_round_trip() {
    let first = q("$orderby=name desc,lastsyncerroroccurredon&$select=name");
    let token = skiptoken_after(&first, |c| match c.name {
        "name" => text("Contoso"),
        "lastsyncerroroccurredon" => SqlParam::Null,
        "mailboxid" => text(G),
        other => panic!("{other}"),
    })
    .unwrap();
    let next = q(&format!(
        "$orderby=name desc,lastsyncerroroccurredon&$select=name&$skiptoken={token}"
    ));
    let p = page(&next, 2);
    assert_eq!(
        p.sql,
        " WHERE (((\"name\" < ?1 COLLATE NOCASE OR \"name\" IS NULL)) OR (\"name\" = ?1 COLLATE NOCASE AND \
         \"lastsyncerroroccurredon\" IS NOT NULL) OR (\"name\" = ?1 COLLATE NOCASE AND \
         \"lastsyncerroroccurredon\" IS NULL AND \"mailboxid\" > ?2)) \
         ORDER BY \"name\" COLLATE NOCASE DESC, \"lastsyncerroroccurredon\" ASC, \"mailboxid\" ASC LIMIT ?3"
    );
    assert_eq!(p.params, vec![text("Contoso"), text(G), SqlParam::Int(3)]);
    // The count is of every matching row, wherever the page is.
    assert_eq!(count(&next), (String::new(), vec![]));
    // A stored value that does not fit its column gives no token rather than a bad one.
    assert_eq!(skiptoken_after(&first, |_| SqlParam::Int(1)), None);
}

// --- Against SQLite itself -------------------------------------------------------------

fn db() -> Connection {
    let db = Connection::open_in_memory().unwrap();
    db.execute_batch(
        "CREATE TABLE mailbox (
            mailboxid TEXT PRIMARY KEY NOT NULL,
            name TEXT COLLATE NOCASE,
            emailserverprofile TEXT,
            emailrouteraccessapproval INTEGER,
            enabledforincomingemail INTEGER,
            averagetotalduration REAL,
            lastsyncerroroccurredon TEXT,
            password TEXT)",
    )
    .unwrap();
    // Duplicates, case variants and nulls in every sortable column, so ties and nulls
    // are exercised at page boundaries.
    let names = [
        Some("alpha"),
        Some("Alpha"),
        Some("beta"),
        None,
        Some("50%_off"),
        Some("x' or 1=1 --x"),
    ];
    for i in 0..120u32 {
        let id = format!("{:08x}-0000-0000-0000-{:012x}", (i * 7919) % 1000, i);
        let name = names[(i % 6) as usize];
        let profile = (i % 4 != 0).then(|| format!("00000000-0000-0000-0000-00000000000{}", i % 3));
        let at = (i % 5 != 0).then(|| format!("2024-05-0{}T10:00:00Z", 1 + i % 3));
        let dur = (i % 7 != 0).then(|| f64::from(i % 4) / 2.0);
        db.execute(
            "INSERT INTO mailbox VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'secret')",
            rusqlite::params![id, name, profile, i % 4, i % 2, dur, at],
        )
        .unwrap();
    }
    db
}

fn read(row: &rusqlite::Row, i: usize) -> SqlParam {
    use rusqlite::types::ValueRef;
    match row.get_ref(i).unwrap() {
        ValueRef::Null => SqlParam::Null,
        ValueRef::Integer(v) => SqlParam::Int(v),
        ValueRef::Real(v) => SqlParam::Real(v),
        ValueRef::Text(t) => text(std::str::from_utf8(t).unwrap()),
        ValueRef::Blob(_) => panic!("blob"),
    }
}

/// One page: the keys of its rows, and the next page's token if any.
fn rows(db: &Connection, q: &Query, max_page: u32) -> (Vec<String>, Option<String>) {
    let cols = fetch_columns(q);
    let p = page(q, max_page);
    let sql = format!("SELECT {} FROM mailbox{}", select_list(q), p.sql);
    let mut stmt = db.prepare(&sql).unwrap();
    let mut out: Vec<Vec<SqlParam>> = stmt
        .query_map(params_from_iter(&p.params), |row| {
            Ok((0..cols.len()).map(|i| read(row, i)).collect())
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key_at = cols.iter().position(|c| c.name == "mailboxid").unwrap();
    let mut token = None;
    if let Some(n) = p.page_size {
        if out.len() > n as usize {
            out.truncate(n as usize);
            let last = out.last().unwrap();
            token = skiptoken_after(q, |c| {
                last[cols.iter().position(|x| x == &c).unwrap()].clone()
            });
            assert!(token.is_some());
        }
    }
    let keys = out
        .iter()
        .map(|r| match &r[key_at] {
            SqlParam::Text(s) => s.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    (keys, token)
}

fn count_rows(db: &Connection, q: &Query) -> usize {
    let (sql, params) = count(q);
    db.query_row(
        &format!("SELECT COUNT(*) FROM mailbox{sql}"),
        params_from_iter(&params),
        |r| r.get::<_, i64>(0),
    )
    .unwrap() as usize
}

#[test]
fn keyset_pages_equal_one_big_page() {
    let db = db();
    for order in [
        "",
        "name",
        "name desc",
        "lastsyncerroroccurredon desc,name",
        "averagetotalduration,lastsyncerroroccurredon desc,_emailserverprofile_value",
        "enabledforincomingemail desc,emailrouteraccessapproval,name desc",
        "mailboxid desc",
    ] {
        for filter in [
            "",
            "&$filter=name ne 'beta'",
            "&$filter=not (averagetotalduration gt 0.5)",
        ] {
            let base = format!("$orderby={order}{filter}");
            let (all, none) = rows(&db, &q(&base), 5000);
            assert_eq!(none, None);
            assert_eq!(all.len(), count_rows(&db, &q(&base)), "{base}");
            for size in [1, 7, 50] {
                let mut paged = Vec::new();
                let mut raw = base.clone();
                loop {
                    let (keys, token) = rows(&db, &q(&raw), size);
                    paged.extend(keys);
                    match token {
                        Some(t) => raw = format!("{base}&$skiptoken={t}"),
                        None => break,
                    }
                }
                assert_eq!(paged, all, "{base} by {size}");
            }
        }
    }
}

#[test]
fn filter_semantics_in_sqlite() {
    let db = db();
    let n = |filter: &str| count_rows(&db, &q(&format!("$filter={filter}")));
    assert_eq!(n("name eq 'ALPHA'"), 40); // case-insensitive, like Dataverse
    assert_eq!(n("name eq null"), 20);
    assert_eq!(n("name ne 'alpha'"), 60); // nulls are not "not equal"
    assert_eq!(n("not (name eq 'alpha')"), 80); // but `not` is the exact complement
    assert_eq!(n("contains(name,'%')"), 20); // `%` is literal, not a wildcard
    assert_eq!(n("contains(name,'0%_')"), 20);
    assert_eq!(n("startswith(name,'_')"), 0);
    assert_eq!(n("contains(name,'x'' or 1=1 --')"), 20);
    assert_eq!(n("endswith(name,'HA')"), 40);
    assert_eq!(n("enabledforincomingemail"), 60);
    assert_eq!(n("enabledforincomingemail eq false"), 60);
    assert_eq!(
        n("_emailserverprofile_value eq 00000000-0000-0000-0000-000000000001"),
        30
    );
    assert_eq!(n("_emailserverprofile_value eq null"), 30);
    assert_eq!(n("lastsyncerroroccurredon ge 2024-05-02"), 64);
    assert_eq!(
        n("lastsyncerroroccurredon lt 2024-05-02T12:00:00+02:00"),
        32
    );
    assert_eq!(
        n("averagetotalduration ge 1"),
        n("averagetotalduration eq 1 or averagetotalduration eq 1.5")
    );
    assert_eq!(
        n("emailrouteraccessapproval eq 1 or emailrouteraccessapproval eq 3"),
        60
    );
    assert_eq!(n("true"), 120);
    assert_eq!(n("false"), 0);
    assert_eq!(n("not false and true"), 120);
    assert_eq!(n("(emailrouteraccessapproval eq 1 or emailrouteraccessapproval eq 3) and not enabledforincomingemail"), 0);
}

#[test]
fn largest_filters_run_in_sqlite() {
    use mailsync_core::odata::{MAX_DEPTH, MAX_TOKENS};
    let db = db();
    // The longest flat list the parser accepts: SQLite would refuse it as one chain.
    let flat = vec!["enabledforincomingemail"; MAX_TOKENS / 2].join(" or ");
    assert_eq!(count_rows(&db, &q(&format!("$filter={flat}"))), 60);
    let ids = vec![format!("mailboxid eq {G}"); MAX_TOKENS / 4 - 1].join(" or ");
    assert_eq!(count_rows(&db, &q(&format!("$filter={ids}"))), 0);
    // The deepest nesting, alternating operators so nothing flattens.
    let mut deep = "enabledforincomingemail".to_string();
    for i in 0..MAX_DEPTH / 2 {
        let op = if i % 2 == 0 { "and" } else { "or" };
        deep = format!("not ({deep} {op} name eq 'beta')");
    }
    let (all, _) = rows(&db, &q(&format!("$filter={deep}")), 5000);
    assert!(all.len() <= 120);
}

/// Every filter the parser accepts becomes SQL that SQLite accepts with its parameters.
#[test]
fn every_accepted_filter_is_valid_sql() {
    const WORDS: &[&str] = &[
        "(",
        ")",
        "not",
        "and",
        "or",
        "eq",
        "ne",
        "gt",
        "le",
        "null",
        "true",
        "false",
        "name",
        "'x'",
        "'50%_'",
        "contains(name,'a')",
        "startswith(name,'_')",
        "5",
        "-2.5",
        "2024-05-02T10:00:00Z",
        G,
        "_emailserverprofile_value",
        "enabledforincomingemail",
        "emailrouteraccessapproval",
        "averagetotalduration",
        "lastsyncerroroccurredon",
        "mailboxid",
    ];
    let db = db();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut accepted = 0;
    for _ in 0..20_000 {
        let len = 1 + next() % 12;
        let words: Vec<&str> = (0..len)
            .map(|_| WORDS[(next() % WORDS.len() as u64) as usize])
            .collect();
        let filter = words.join(" ");
        let Ok(query) = parse_query_pairs(&MAILBOX, [("$filter", filter.as_str())]) else {
            continue;
        };
        accepted += 1;
        count_rows(&db, &query);
        rows(&db, &query, 7);
    }
    assert!(accepted > 200, "only {accepted} accepted");
}
