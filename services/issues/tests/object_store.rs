//! The hand-written SigV4 client (`swatter_common::objects`) against a real s3s-fs, which checks
//! every signature (presigned URLs included): presigned PUTs whose length and type are enforced,
//! presigned GETs with their response overrides, HEAD, streamed GET, PUT, DELETE, and the errors
//! of a store that is down or refuses the credentials.

use std::time::Duration;

use swatter_common::objects::{GetOverrides, ObjectError, ObjectStore, ObjectStoreConfig};
use swatter_testkit::{S3_KEY, S3_SECRET, S3Server};

fn client(server: &S3Server, secret: &str) -> ObjectStore {
    ObjectStore::new(ObjectStoreConfig {
        endpoint: server.endpoint(),
        public_endpoint: server.endpoint(),
        region: "us-east-1".into(),
        bucket: "attachments-test".into(),
        access_key: S3_KEY.into(),
        secret_key: secret.into(),
        timeout: Duration::from_secs(5),
    })
}

async fn store() -> (S3Server, ObjectStore) {
    let server = S3Server::start().await;
    let store = client(&server, S3_SECRET);
    store.ensure_bucket().await.expect("create the bucket");
    (server, store)
}

async fn put_presigned(
    upload: &swatter_common::objects::PresignedRequest,
    body: Vec<u8>,
    content_type: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .put(&upload.url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("reach the store")
}

async fn read_all(store: &ObjectStore, key: &str) -> Option<Vec<u8>> {
    let mut body = store.get(key).await.expect("get")?;
    let mut content = Vec::new();
    while let Some(chunk) = body.chunk().await.expect("read a chunk") {
        content.extend_from_slice(&chunk);
    }
    Some(content)
}

#[tokio::test]
async fn ensuring_the_bucket_twice_is_fine() {
    let (_server, store) = store().await;
    store.ensure_bucket().await.expect("a second time");
}

#[tokio::test]
async fn a_presigned_put_uploads_exactly_what_was_signed() {
    let (_server, store) = store().await;
    let key = "attachments/Ünïcode name + space.txt";
    let upload = store.presign_put(key, 11, "text/plain", Duration::from_secs(60));
    let response = put_presigned(&upload, b"hello world".to_vec(), "text/plain").await;
    assert!(response.status().is_success(), "{}", response.status());
    let info = store.head(key).await.unwrap().expect("the object is there");
    assert_eq!(info.size, 11);
    assert_eq!(info.content_type.as_deref(), Some("text/plain"));
    assert_eq!(read_all(&store, key).await.unwrap(), b"hello world");
}

#[tokio::test]
async fn a_presigned_put_of_another_length_or_type_is_refused_and_stores_nothing() {
    let (_server, store) = store().await;
    let upload = store.presign_put("attachments/a", 5, "text/plain", Duration::from_secs(60));
    let longer = put_presigned(&upload, b"hello, and more".to_vec(), "text/plain").await;
    assert_eq!(longer.status(), 403);
    let other_type = put_presigned(&upload, b"hello".to_vec(), "text/html").await;
    assert_eq!(other_type.status(), 403);
    assert_eq!(store.head("attachments/a").await.unwrap(), None);
}

#[tokio::test]
async fn an_expired_presigned_put_is_refused() {
    let (_server, store) = store().await;
    let upload = store.presign_put("attachments/late", 5, "text/plain", Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let response = put_presigned(&upload, b"hello".to_vec(), "text/plain").await;
    assert_eq!(response.status(), 403);
    assert_eq!(store.head("attachments/late").await.unwrap(), None);
}

#[tokio::test]
async fn a_presigned_get_serves_the_signed_type_and_disposition() {
    let (_server, store) = store().await;
    store
        .put(
            "attachments/page",
            "<html><script>alert(1)</script>".into(),
            "text/html",
        )
        .await
        .unwrap();
    let get = store.presign_get(
        "attachments/page",
        Duration::from_secs(60),
        &GetOverrides {
            content_type: Some("text/plain; charset=utf-8".into()),
            content_disposition: Some(
                "attachment; filename=\"page.html\"; filename*=UTF-8''page.html".into(),
            ),
        },
    );
    assert_eq!(get.method, "GET");
    let response = reqwest::get(&get.url).await.unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "text/plain; charset=utf-8");
    assert!(header("content-disposition").starts_with("attachment;"));
    assert_eq!(
        response.text().await.unwrap(),
        "<html><script>alert(1)</script>"
    );

    // The overrides are signed: changing one breaks the signature.
    let tampered = get.url.replace("attachment%3B", "inline%3B");
    assert_eq!(reqwest::get(&tampered).await.unwrap().status(), 403);
}

#[tokio::test]
async fn put_head_get_and_delete_of_a_missing_object() {
    let (_server, store) = store().await;
    assert_eq!(store.head("attachments/none").await.unwrap(), None);
    assert!(store.get("attachments/none").await.unwrap().is_none());
    store
        .delete("attachments/none")
        .await
        .expect("deleting nothing is fine");

    let content = vec![7u8; 3 * 1024 * 1024];
    store
        .put(
            "attachments/big",
            content.clone().into(),
            "application/octet-stream",
        )
        .await
        .unwrap();
    assert_eq!(read_all(&store, "attachments/big").await.unwrap(), content);
    store.delete("attachments/big").await.unwrap();
    assert_eq!(store.head("attachments/big").await.unwrap(), None);
}

#[tokio::test]
async fn a_store_that_is_down_is_unavailable_and_comes_back() {
    let (mut server, store) = store().await;
    server.stop();
    for result in [
        store.head("k").await.map(|_| ()),
        store.delete("k").await,
        store.put("k", "x".into(), "text/plain").await,
        store.get("k").await.map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(ObjectError::Unavailable(_))),
            "{result:?}"
        );
    }
    server.resume().await;
    store.put("k", "x".into(), "text/plain").await.unwrap();
}

#[tokio::test]
async fn wrong_credentials_are_a_refusal_naming_the_code() {
    let (server, _store) = store().await;
    let wrong = client(&server, "not-the-secret");
    match wrong.head("k").await {
        Err(ObjectError::Refused { status: 403, .. }) => {}
        other => panic!("{other:?}"),
    }
    match wrong.put("k", "x".into(), "text/plain").await {
        Err(ObjectError::Refused {
            status: 403, code, ..
        }) => assert_eq!(code, "SignatureDoesNotMatch"),
        other => panic!("{other:?}"),
    }
}
