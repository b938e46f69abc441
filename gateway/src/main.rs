//! `swatter-gateway [serve]`: the REST face of swatter; `config-reference` prints the settings
//! table. Everything else lives in the library.

use std::process::ExitCode;

use swatter_common::{bootstrap, telemetry};
use swatter_gateway::{
    config::{Cli, Command},
    startup::Application,
};

/// mimalloc instead of glibc's allocator: a request allocates and frees many small buffers
/// (protobuf, JSON, rows), which glibc spent a fifth of this process's time on.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    bootstrap::run(|Cli { command, settings }: Cli| async move {
        match command.unwrap_or(Command::Serve) {
            Command::Serve => {
                let _telemetry = telemetry::init("swatter-gateway", &settings.telemetry)?;
                let app = Application::build(settings.into_config()).await?;
                app.run_until_stopped().await
            }
            Command::ConfigReference => bootstrap::print_reference::<Cli>(),
        }
    })
    .await
}
