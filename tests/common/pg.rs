//! A PostgreSQL database of the test's own, created on the server at `DINERO_BRIDGE_TEST_PG`
//! (default: the local server scripts/test starts) and dropped when the guard goes.

use sqlx::{Connection, Executor, PgConnection};

pub fn admin_url() -> String {
    std::env::var("DINERO_BRIDGE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub struct PgDatabase {
    pub url: String,
    name: String,
}

impl PgDatabase {
    pub async fn create() -> PgDatabase {
        let admin = admin_url();
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {admin}: {e} (scripts/test starts the local server)")
        });
        let name = format!("dinero_bridge_test_{}", uuid::Uuid::new_v4().simple());
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap();
        let (server, _) = admin.rsplit_once('/').expect("URL with a database");
        PgDatabase {
            url: format!("{server}/{name}"),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot block on itself: a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&admin_url()).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = conn.execute(sql.as_str()).await;
                }
            });
        })
        .join();
    }
}
