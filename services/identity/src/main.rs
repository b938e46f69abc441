//! `swatter-identity [serve]` runs the service; `keygen FILE` writes a new Ed25519 signing key;
//! `migrate` applies migrations and exits; `config-reference` prints the settings table.

use std::{path::Path, process::ExitCode};

use swatter_common::bootstrap;
use swatter_identity::{
    MIGRATOR,
    config::{Cli, Command},
    startup::Application,
    tokens::SigningKey,
};

#[tokio::main]
async fn main() -> ExitCode {
    bootstrap::run(|Cli { command, settings }: Cli| async move {
        match command.unwrap_or(Command::Serve) {
            Command::Serve => {
                let _telemetry = settings.service.init("swatter-identity")?;
                swatter_identity::passwords::return_hash_memory_promptly();
                let app = Application::build(settings.into_config()?).await?;
                app.run_until_stopped().await
            }
            Command::Keygen { file } => keygen(&file),
            Command::Migrate => settings.config.database.migrate(&MIGRATOR).await,
            Command::ConfigReference => bootstrap::print_reference::<Cli>(),
        }
    })
    .await
}

fn keygen(path: &Path) -> anyhow::Result<()> {
    use std::io::Write;
    let pem = SigningKey::generate_pem()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
    file.write_all(pem.as_bytes())?;
    println!("wrote a new Ed25519 signing key to {}", path.display());
    Ok(())
}
