//! A fresh PostgreSQL database per test, dropped afterwards. The server is
//! `APIPROXY_TEST_PG_URL`, else the one these machines run at 127.0.0.1:5432 (scripts/test.sh
//! starts a throwaway one when none answers there, and exports the variable).

use diesel::{Connection, PgConnection, RunQueryDsl};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub struct TestPg {
    /// The new database's URL.
    pub url: String,
    server: String,
    name: String,
}

fn server_url() -> String {
    std::env::var("APIPROXY_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let (host, _) = base
        .rsplit_once('/')
        .filter(|(h, _)| h.contains("//"))
        .unwrap_or((base, ""));
    format!("{host}/{name}{query}")
}

impl TestPg {
    pub fn new() -> Self {
        let server = server_url();
        let name = format!("apiproxy_test_{:016x}", rand::random::<u64>());
        let mut conn = PgConnection::establish(&server).unwrap_or_else(|e| {
            panic!(
                "no PostgreSQL for the tests at {server} ({e}): run scripts/throwaway-postgres.sh \
                 and export the APIPROXY_TEST_PG_URL it prints"
            )
        });
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .expect("create the test database");
        Self {
            url: with_database(&server, &name),
            server,
            name,
        }
    }

    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("connect to the test database")
    }

    /// The single `n` an SQL query returns (`SELECT count(*) AS n …`).
    pub fn count(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        diesel::sql_query(sql)
            .get_result::<Count>(&mut self.connect())
            .unwrap()
            .n
    }
}

impl Drop for TestPg {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.server) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn);
        }
    }
}

#[test]
fn database_names_replace_the_servers() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5433", "x"),
        "postgres://h:5433/x"
    );
}
