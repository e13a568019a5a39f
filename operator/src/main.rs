fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("crd") {
        print!("{}", convene_operator::crd::crd_yaml()?);
    }
    Ok(())
}
