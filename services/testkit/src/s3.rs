//! An s3s-fs process owned by one test.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use crate::free_port;

/// The credentials of every test object store.
pub const S3_KEY: &str = "swatter-test";
pub const S3_SECRET: &str = "swatter-test-secret";

fn s3s_fs_binary() -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin")))
        .map(|dir| dir.join("s3s-fs"))
        .find(|p| p.is_file())
        .expect("tests need s3s-fs: run them with `make test` (it installs s3s-fs 0.14.1)")
}

/// An s3s-fs server owned by one test, removed with its folder when dropped; it can be stopped
/// (the object store is "down") and started again on the same port and folder.
pub struct S3Server {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl S3Server {
    pub async fn start() -> S3Server {
        let dir =
            std::env::temp_dir().join(format!("swatter-s3-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create the s3s-fs folder");
        let mut server = S3Server {
            port: free_port(),
            dir,
            child: None,
        };
        server.resume().await;
        server
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port and folder.
    pub async fn resume(&mut self) {
        let child = Command::new(s3s_fs_binary())
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", S3_KEY, "--secret-key", S3_SECRET])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("s3s-fs did not start on port {}", self.port);
    }

    /// Multipart uploads started and neither completed nor aborted (s3s-fs keeps one
    /// `.upload-{id}.json` per upload in its folder, and answers no `ListMultipartUploads`).
    pub fn pending_uploads(&self) -> usize {
        std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|entry| {
                        let name = entry.file_name();
                        let name = name.to_string_lossy();
                        name.starts_with(".upload-") && name.ends_with(".json")
                    })
                    .count()
            })
            .unwrap_or(0)
    }

    /// Stops the server (the object store is "down").
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
