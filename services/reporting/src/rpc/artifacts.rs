//! The finished report: a presigned link to it, or its bytes streamed through this service.

use swatter_common::{
    auth::UserPrincipal,
    rpc::{caller, timestamp},
};
use swatter_proto::reporting::v1 as pb;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Status};

use super::{ChunkStream, Reporting, convert::job_message, visible_job};
use crate::{
    domain::JobState,
    error::{ReportingError, Result},
    store::JobRow,
};

/// A job the caller may see that has succeeded, and the key of its report in the store.
async fn succeeded_job(
    reporting: &Reporting,
    raw_id: &str,
    me: &UserPrincipal,
) -> Result<(JobRow, String)> {
    let job = visible_job(reporting, raw_id, me).await?;
    match (&job.artifact_key, job.state) {
        (Some(key), JobState::Succeeded) => {
            let key = key.clone();
            Ok((job, key))
        }
        _ => Err(ReportingError::FailedPrecondition(
            format!(
                "the job is {}; its report exists once it has succeeded",
                job.state
            )
            .into(),
        )),
    }
}

pub(super) async fn get_artifact(
    reporting: &Reporting,
    request: Request<pb::GetArtifactRequest>,
) -> Result<pb::Artifact> {
    let me = caller(&request)?;
    let (job, key) = succeeded_job(reporting, &request.get_ref().id, &me).await?;
    let (url, expires_at) = reporting
        .storage
        .presign(&key)
        .await
        .map_err(ReportingError::Unavailable)?;
    let mut artifact = job_message(&job).artifact.unwrap_or_default();
    artifact.url = url;
    artifact.expires_at = Some(timestamp(expires_at));
    Ok(artifact)
}

pub(super) async fn download_artifact(
    reporting: &Reporting,
    request: Request<pb::DownloadArtifactRequest>,
) -> Result<ChunkStream> {
    let me = caller(&request)?;
    let (job, key) = succeeded_job(reporting, &request.get_ref().id, &me).await?;
    let mut body = reporting
        .storage
        .get(&key)
        .await
        .map_err(ReportingError::Unavailable)?;
    let metadata = job_message(&job).artifact;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let mut metadata = metadata;
        loop {
            match body.try_next().await {
                Ok(Some(bytes)) => {
                    let chunk = pb::ArtifactChunk {
                        metadata: metadata.take(),
                        data: bytes.to_vec(),
                    };
                    if tx.send(Ok(chunk)).await.is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(error) => {
                    tracing::warn!(error = %error, "artifact download interrupted");
                    let _ = tx
                        .send(Err(Status::unavailable(
                            "the object store stopped answering",
                        )))
                        .await;
                    return;
                }
            }
        }
    });
    Ok(Box::pin(ReceiverStream::new(rx)))
}
