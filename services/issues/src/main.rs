//! `swatter-issues [serve]` runs the service; `migrate` applies migrations and exits;
//! `config-reference` prints the settings table.

use std::process::ExitCode;

use swatter_common::bootstrap;
use swatter_issues::{
    MIGRATOR,
    config::{Cli, Command},
    startup::Application,
};

/// mimalloc instead of glibc's allocator: a request allocates and frees many small buffers
/// (protobuf, JSON, rows), which glibc spent a fifth of this process's time on.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    bootstrap::run(|cli: Cli| async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => {
                let _telemetry = cli.service.init("swatter-issues")?;
                Application::build(cli.config)
                    .await?
                    .run_until_stopped()
                    .await
            }
            Command::Migrate => cli.config.database.migrate(&MIGRATOR).await,
            Command::ConfigReference => bootstrap::print_reference::<Cli>(),
        }
    })
    .await
}
