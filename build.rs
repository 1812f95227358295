// sqlx embeds the migrations at compile time: a new migration file must
// rebuild the crate even when no source file changed.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
