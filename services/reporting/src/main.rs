//! `swatter-reporting [serve]` runs everything in one process; `api` the API, relay and sweeper
//! without rendering; `worker` only the worker; `migrate` applies migrations and exits;
//! `config-reference` prints the settings table.

use std::process::ExitCode;

use swatter_common::bootstrap;
use swatter_reporting::{
    MIGRATOR,
    config::{Cli, Command},
    startup::Application,
};

#[tokio::main]
async fn main() -> ExitCode {
    bootstrap::run(|Cli { command, settings }: Cli| async move {
        let command = command.unwrap_or(Command::Serve);
        if let Some(mode) = command.mode() {
            let _telemetry = settings.service.init("swatter-reporting")?;
            let app = Application::build(settings.into_config()?, mode).await?;
            return app.run_until_stopped().await;
        }
        match command {
            Command::Migrate => settings.config.database.migrate(&MIGRATOR).await,
            _ => bootstrap::print_reference::<Cli>(),
        }
    })
    .await
}
