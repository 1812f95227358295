//! The PostgreSQL migrations are the SQLite ones with BIGINT for INTEGER:
//! one schema, two dialects, held together here.

#[test]
fn postgres_migrations_mirror_the_sqlite_ones() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut names: Vec<String> = std::fs::read_dir(dir.join("sqlite"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(!names.is_empty());
    for name in names {
        let sqlite = std::fs::read_to_string(dir.join("sqlite").join(&name)).unwrap();
        let postgres = std::fs::read_to_string(dir.join("postgres").join(&name))
            .unwrap_or_else(|_| panic!("migrations/postgres/{name} is missing"));
        // Skip the two header comment lines, which name the dialect.
        let body = |text: &str| text.lines().skip(2).collect::<Vec<_>>().join("\n");
        assert_eq!(
            body(&sqlite.replace("INTEGER", "BIGINT")),
            body(&postgres),
            "{name} differs beyond INTEGER/BIGINT"
        );
    }
}
