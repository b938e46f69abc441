//! `swatter-webhooks [serve]` runs the API, the events consumer, the dispatcher and the outbox
//! relay; `migrate` applies migrations and exits; `config-reference` prints the settings table.

use std::process::ExitCode;

use swatter_common::bootstrap;
use swatter_webhooks::{
    MIGRATOR,
    config::{Cli, Command},
    startup::Application,
};

#[tokio::main]
async fn main() -> ExitCode {
    bootstrap::run(
        |Cli {
             command,
             config,
             service,
         }: Cli| async move {
            match command.unwrap_or(Command::Serve) {
                Command::Serve => {
                    let _telemetry = service.init("swatter-webhooks")?;
                    let app = Application::build(config.checked()?).await?;
                    app.run_until_stopped().await
                }
                Command::Migrate => config.database.migrate(&MIGRATOR).await,
                Command::ConfigReference => bootstrap::print_reference::<Cli>(),
            }
        },
    )
    .await
}
