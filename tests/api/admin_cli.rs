//! `trustid admin create|passwd|disable|forget-phones|list`: console administrators as an
//! operator makes them. A password comes on standard input, is stored as an
//! argon2 hash, and is never printed; every refusal is a message, a
//! non-zero exit and nothing stored.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use trustid::store::Store;

/// `trustid ARGS` in `dir` with `stdin` piped in.
fn admin(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trustid"));
    cmd.current_dir(dir).arg("admin").args(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("TRUSTID_")) {
        cmd.env_remove(k);
    }
    cmd.env(
        "TRUSTID_DATABASE_URL",
        format!("sqlite://{}", dir.join("t.db").display()),
    );
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn store(dir: &Path) -> std::sync::Arc<dyn Store> {
    let url = format!("sqlite://{}", dir.join("t.db").display());
    trustid::store::open(&url, trustid::store::SqliteSynchronous::Full)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_admin_is_created_with_a_hashed_password_changed_and_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let password = "correct horse battery staple";
    let created = admin(
        dir.path(),
        &["create", "--email", " Ops@Bank.Example", "--json"],
        &format!("{password}\n"),
    );
    assert!(created.status.success(), "{}", text(&created));
    assert!(!text(&created).contains(password), "the password is never printed");
    let json: Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(json["email"], "ops@bank.example");
    assert_eq!(json["disabled"], false);

    let stored = store(dir.path())
        .await
        .admin_by_email("ops@bank.example")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.password_hash.starts_with("$argon2"), "{}", stored.password_hash);
    assert!(trustid::crypto::secret::verify_password(
        password,
        &stored.password_hash
    ));

    let changed = admin(
        dir.path(),
        &["passwd", "--email", "ops@bank.example"],
        "another long password\n",
    );
    assert!(changed.status.success(), "{}", text(&changed));
    let after = store(dir.path())
        .await
        .admin_by_email("ops@bank.example")
        .await
        .unwrap()
        .unwrap();
    assert!(trustid::crypto::secret::verify_password(
        "another long password",
        &after.password_hash
    ));
    assert!(!trustid::crypto::secret::verify_password(
        password,
        &after.password_hash
    ));

    let forgot = admin(dir.path(), &["forget-phones", "--email", "ops@bank.example"], "");
    assert!(forgot.status.success(), "{}", text(&forgot));
    assert!(text(&forgot).contains("0 phone(s) of ops@bank.example removed"));

    let disabled = admin(dir.path(), &["disable", "--email", "OPS@bank.example"], "");
    assert!(disabled.status.success(), "{}", text(&disabled));
    let listed = admin(dir.path(), &["list", "--json"], "");
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["disabled"], true);
    let text_list = admin(dir.path(), &["list"], "");
    assert_eq!(
        String::from_utf8_lossy(&text_list.stdout),
        "ops@bank.example\tdisabled\n"
    );
    assert!(listed[0].get("password_hash").is_none());

    let audit = store(dir.path())
        .await
        .audit_of("admin:ops@bank.example")
        .await
        .unwrap();
    let actions: Vec<&str> = audit.iter().map(|(_, _, action)| action.as_str()).collect();
    for action in ["admin.created", "admin.password_changed", "admin.disabled"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

#[tokio::test]
async fn bad_input_is_refused_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (args, stdin, says) in [
        (
            vec!["create", "--email", "not-an-email"],
            "correct horse battery\n",
            "not an e-mail",
        ),
        (vec!["create", "--email", "ops@bank.example"], "short\n", "12 to 256"),
        (vec!["create", "--email", "ops@bank.example"], "", "no password"),
        (
            vec!["passwd", "--email", "nobody@bank.example"],
            "correct horse battery\n",
            "no admin",
        ),
        (
            vec!["disable", "--email", "nobody@bank.example"],
            "",
            "no enabled admin",
        ),
        (vec!["forget-phones", "--email", "nobody@bank.example"], "", "no admin"),
    ] {
        let out = admin(dir.path(), &args, stdin);
        assert!(!out.status.success(), "{args:?}");
        assert!(text(&out).contains(says), "{args:?}: {}", text(&out));
    }
    assert!(store(dir.path()).await.admins().await.unwrap().is_empty());

    let first = admin(
        dir.path(),
        &["create", "--email", "ops@bank.example"],
        "correct horse battery\n",
    );
    assert!(first.status.success(), "{}", text(&first));
    let again = admin(
        dir.path(),
        &["create", "--email", "OPS@bank.example"],
        "correct horse battery\n",
    );
    assert!(!again.status.success());
    assert!(text(&again).contains("exists already"), "{}", text(&again));
    let twice = admin(dir.path(), &["disable", "--email", "ops@bank.example"], "");
    assert!(twice.status.success());
    let thrice = admin(dir.path(), &["disable", "--email", "ops@bank.example"], "");
    assert!(!thrice.status.success(), "disabling twice is refused");
}
